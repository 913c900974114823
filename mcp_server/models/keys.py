"""Which environment variable holds each provider's key. litellm reads them; we only name them in
error messages, so a user who sees one knows exactly what to set."""

from __future__ import annotations

PROVIDER_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY",),
    "vertex_ai": ("GOOGLE_APPLICATION_CREDENTIALS", "VERTEXAI_PROJECT"),
    "azure": ("AZURE_API_KEY", "AZURE_API_BASE", "AZURE_API_VERSION"),
    "bedrock": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION_NAME"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "databricks": ("DATABRICKS_API_KEY", "DATABRICKS_API_BASE"),
}

COMMON_KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")


def key_variables(provider: str | None) -> tuple[str, ...]:
    """The variables to set for `provider`; the common ones when it is unknown or not given."""
    if provider is None:
        return COMMON_KEY_VARIABLES
    return PROVIDER_KEY_VARIABLES.get(provider, (f"{provider.upper()}_API_KEY",))
