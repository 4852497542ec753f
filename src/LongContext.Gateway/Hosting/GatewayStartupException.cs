namespace LongContext.Gateway.Hosting;

/// <summary>The gateway cannot start with the settings it was given; the message says which key or file to fix.</summary>
internal sealed class GatewayStartupException(string message) : Exception(message);
