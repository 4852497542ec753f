namespace LongContext.Gateway.Configuration;

/// <summary>Builds the colon-separated configuration paths that validation messages name.</summary>
internal static class ConfigKeys
{
    public static string Of(params object[] parts) => string.Join(':', parts);
}
