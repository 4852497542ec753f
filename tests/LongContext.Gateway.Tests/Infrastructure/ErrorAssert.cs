using System.Net;
using System.Text.Json;

namespace LongContext.Gateway.Tests.Infrastructure;

/// <summary>Checks that a response is an error in OpenAI's shape.</summary>
internal static class ErrorAssert
{
    public static async Task<OpenAiErrorShape> IsOpenAiErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? code = null, string? param = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType);
        return Parse(body, code, param);
    }

    public static OpenAiErrorShape Parse(string body, string? code = null, string? param = null)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        var error = root.GetProperty("error");
        var shape = new OpenAiErrorShape(
            error.GetProperty("message").GetString()!,
            error.GetProperty("type").GetString()!,
            error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString(),
            error.GetProperty("code").ValueKind == JsonValueKind.Null ? null : error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(shape.Message));
        Assert.False(string.IsNullOrWhiteSpace(shape.Type));
        if (code is not null)
        {
            Assert.Equal(code, shape.Code);
        }

        if (param is not null)
        {
            Assert.Equal(param, shape.Param);
        }

        return shape;
    }
}

internal sealed record OpenAiErrorShape(string Message, string Type, string? Param, string? Code);
