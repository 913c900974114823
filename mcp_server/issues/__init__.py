"""Issues: the failures of many traces gathered into a few named problems with their prevalence
(DiscoverIssues), curated by people, and turned into a dataset or a judge that finds them."""
