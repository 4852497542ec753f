using System.Text.Json;
using LongContext.Attention.Ring;
using LongContext.Backend.Generation;
using LongContext.Backend.Model;

namespace LongContext.Backend.Server;

/// <summary>A request the server could not take: status, OpenAI error code, the parameter at fault.</summary>
public sealed class BackendRequestException(int status, string code, string message, string? param = null) : Exception(message)
{
    public int Status => status;

    public string Code => code;

    public string? Param => param;
}

/// <summary>A parsed chat or text completion request.</summary>
internal sealed record CompletionRequest(
    string Model,
    IReadOnlyList<(string Role, string Content)> Messages,
    string? Prompt,
    SamplingOptions Sampling,
    AttentionSettings Attention,
    bool Stream)
{
    private const int MaxStopSequences = 4;

    public static CompletionRequest Parse(JsonElement body, bool chat, string? attentionHeader, BackendOptions options)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("The request body must be a JSON object.", null);
        }

        var model = body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : throw Invalid("'model' is required and must be a string.", "model");
        var messages = new List<(string, string)>();
        string? prompt = null;
        if (chat)
        {
            if (!body.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                throw Invalid("'messages' must be a non-empty array.", "messages");
            }

            var index = 0;
            foreach (var message in list.EnumerateArray())
            {
                var role = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Invalid($"messages[{index}].role must be a string.", $"messages[{index}].role");
                if (role is not ("system" or "developer" or "user" or "assistant"))
                {
                    throw Invalid($"messages[{index}].role '{role}' is not system, developer, user or assistant.", $"messages[{index}].role");
                }

                messages.Add((role, Content(message, index)));
                index++;
            }
        }
        else
        {
            prompt = body.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : throw Invalid("'prompt' is required and must be a string.", "prompt");
        }

        var maxTokens = Integer(body, chat && body.TryGetProperty("max_completion_tokens", out _) ? "max_completion_tokens" : "max_tokens") ?? options.DefaultMaxTokens;
        if (maxTokens < 1)
        {
            throw Invalid($"max_tokens must be at least 1 (got {maxTokens}).", "max_tokens");
        }

        var temperature = Number(body, "temperature") ?? 0;
        if (temperature is < 0 or > 2)
        {
            throw Invalid($"temperature must be between 0 and 2 (got {temperature}).", "temperature");
        }

        var topP = Number(body, "top_p") ?? 1;
        if (topP is <= 0 or > 1)
        {
            throw Invalid($"top_p must be in (0, 1] (got {topP}).", "top_p");
        }

        var stream = body.TryGetProperty("stream", out var s) && (s.ValueKind is JsonValueKind.True or JsonValueKind.False ? s.GetBoolean() : throw Invalid("'stream' must be a boolean.", "stream"));
        var sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = temperature, TopP = topP, Stop = Stops(body), Seed = Integer(body, "seed") };
        return new CompletionRequest(model, messages, prompt, sampling, ParseAttention(body, attentionHeader, options.Attention), stream);
    }

    private static string Content(JsonElement message, int index)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind == JsonValueKind.Array)
        {
            // Text parts only: this backend reads no images or audio.
            return string.Concat(content.EnumerateArray().Select(part =>
                part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.GetString() == "text" && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                    ? text.GetString()
                    : throw Invalid($"messages[{index}].content: only text parts are supported.", $"messages[{index}].content")));
        }

        throw Invalid($"messages[{index}].content must be a string or an array of text parts.", $"messages[{index}].content");
    }

    private static List<string> Stops(JsonElement body)
    {
        if (!body.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        var stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => stop.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Invalid("stop must be a string or an array of strings.", "stop")).ToList(),
            _ => throw Invalid("stop must be a string or an array of strings.", "stop"),
        };
        return stops.Count > MaxStopSequences || stops.Any(string.IsNullOrEmpty)
            ? throw Invalid($"stop takes 1 to {MaxStopSequences} non-empty strings.", "stop")
            : stops;
    }

    /// <summary>The method from the X-LCG-Attention header or <c>lcg.attention</c> (a name, or an object with method and parameters); defaults from config.</summary>
    private static AttentionSettings ParseAttention(JsonElement body, string? header, AttentionSettings defaults)
    {
        var settings = defaults;
        if (!string.IsNullOrEmpty(header))
        {
            settings = settings with { Method = Method(header, "X-LCG-Attention") };
        }

        if (!body.TryGetProperty("lcg", out var lcg) || lcg.ValueKind != JsonValueKind.Object || !lcg.TryGetProperty("attention", out var attention))
        {
            return settings;
        }

        if (attention.ValueKind == JsonValueKind.String)
        {
            return settings with { Method = Method(attention.GetString()!, "lcg.attention") };
        }

        if (attention.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("lcg.attention must be a method name or an object.", "lcg.attention");
        }

        foreach (var property in attention.EnumerateObject())
        {
            var name = "lcg.attention." + property.Name;
            settings = property.Name switch
            {
                "method" => settings with { Method = Method(property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : "", name) },
                "ring_ranks" => settings with { RingRanks = Int(property.Value, name) },
                "ring_sharding" => settings with { RingSharding = property.Value.GetString() switch { "zigzag" => RingSharding.Zigzag, "contiguous" => RingSharding.Contiguous, var other => throw Invalid($"{name} '{other}' is not zigzag or contiguous.", name) } },
                "star_block_tokens" => settings with { StarBlockTokens = Int(property.Value, name) },
                "star_anchor_tokens" => settings with { StarAnchorTokens = Int(property.Value, name) },
                "star_query_tokens" => settings with { StarQueryTokens = Int(property.Value, name) },
                "infini_segment_tokens" => settings with { InfiniSegmentTokens = Int(property.Value, name) },
                "sparse_window" => settings with { SparseWindow = Int(property.Value, name) },
                "sparse_global_tokens" => settings with { SparseGlobalTokens = Int(property.Value, name) },
                "kv_policy" => settings with { KvPolicy = Policy(property.Value.GetString() ?? "", name) },
                "kv_compression_ratio" => settings with { KvCompressionRatio = property.Value.ValueKind == JsonValueKind.Number ? property.Value.GetDouble() : throw Invalid($"{name} must be a number.", name) },
                "self_extend_group" => settings with { SelfExtendGroup = Int(property.Value, name) },
                "self_extend_window" => settings with { SelfExtendWindow = Int(property.Value, name) },
                "log_length_scaling" => settings with { LogLengthScaling = property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False ? property.Value.GetBoolean() : throw Invalid($"{name} must be true or false.", name) },
                _ => throw Invalid($"{name} is not an attention parameter (method, ring_ranks, ring_sharding, star_block_tokens, star_anchor_tokens, star_query_tokens, infini_segment_tokens, sparse_window, sparse_global_tokens, kv_policy, kv_compression_ratio, self_extend_group, self_extend_window, log_length_scaling).", name),
            };
        }

        try
        {
            return settings.Validate();
        }
        catch (ArgumentException e)
        {
            throw Invalid("lcg.attention." + e.Message, "lcg.attention." + e.ParamName);
        }
    }

    public static AttentionMethod Method(string name, string param) => name.ToLowerInvariant() switch
    {
        "full" => AttentionMethod.Full,
        "ring" => AttentionMethod.Ring,
        "star" => AttentionMethod.Star,
        "infini" => AttentionMethod.Infini,
        "sparse" => AttentionMethod.Sparse,
        _ => throw Invalid($"{param}: unknown attention method '{name}'; use full, ring, star, infini or sparse.", param),
    };

    private static KvPolicy Policy(string name, string param) => name switch
    {
        "full" => KvPolicy.Full,
        "streaming_llm" => KvPolicy.StreamingLlm,
        "h2o" => KvPolicy.HeavyHitter,
        "snapkv" => KvPolicy.SnapKv,
        "quest" => KvPolicy.Quest,
        "two_stage" => KvPolicy.TwoStage,
        _ => throw Invalid($"{param}: unknown KV policy '{name}'; use full, streaming_llm, h2o, snapkv, quest or two_stage.", param),
    };

    private static int Int(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : throw Invalid($"{name} must be an integer.", name);

    private static int? Integer(JsonElement body, string name) =>
        !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null : Int(value, name);

    private static double? Number(JsonElement body, string name) =>
        !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw Invalid($"{name} must be a number.", name);

    private static BackendRequestException Invalid(string message, string? param) => new(400, "invalid_request_error", message, param);
}
