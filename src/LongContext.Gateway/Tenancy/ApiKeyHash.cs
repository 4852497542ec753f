using System.Security.Cryptography;
using System.Text;

namespace LongContext.Gateway.Tenancy;

/// <summary>API keys are kept only as SHA-256 digests: config holds the hex form.</summary>
internal static class ApiKeyHash
{
    public const int HexLength = SHA256.HashSizeInBytes * 2;

    public static string ToHex(string apiKey) => Convert.ToHexStringLower(Compute(apiKey));

    public static byte[] Compute(ReadOnlySpan<char> apiKey)
    {
        var byteCount = Encoding.UTF8.GetByteCount(apiKey);
        var buffer = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(apiKey, buffer);
        var hash = SHA256.HashData(buffer);
        CryptographicOperations.ZeroMemory(buffer);
        return hash;
    }

    public static bool IsWellFormed(string? hex) =>
        hex is { Length: HexLength } && hex.AsSpan().ContainsAnyExcept(HexDigits) is false;

    public static byte[] FromHex(string hex) => Convert.FromHexString(hex);

    private static readonly System.Buffers.SearchValues<char> HexDigits =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");
}
