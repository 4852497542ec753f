using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace LongContext.Backend.Server;

/// <summary>The backend's counters, written in Prometheus's text format at /metrics.</summary>
public sealed class BackendMetrics
{
    private readonly ConcurrentDictionary<(string Endpoint, string Method, int Status), long> _requests = new();
    private readonly Lock _gate = new();
    private long _promptTokens;
    private long _completionTokens;
    private double _prefillSeconds;
    private double _decodeSeconds;
    private long _prefills;
    private double _lastDecodeTokensPerSecond;
    private long _kvBytesInUse;
    private long _kvBytesPeak;

    public void Request(string endpoint, string method, int status) => _requests.AddOrUpdate((endpoint, method, status), 1, (_, n) => n + 1);

    public void KvInUse(long delta)
    {
        var now = Interlocked.Add(ref _kvBytesInUse, delta);
        long peak;
        while (now > (peak = Interlocked.Read(ref _kvBytesPeak)) && Interlocked.CompareExchange(ref _kvBytesPeak, now, peak) != peak)
        {
        }
    }

    public void Generation(Generation.GenerationStats stats)
    {
        lock (_gate)
        {
            _prefills++;
            _promptTokens += stats.PromptTokens;
            _completionTokens += stats.CompletionTokens;
            _prefillSeconds += stats.Prefill.TotalSeconds;
            _decodeSeconds += stats.Decode.TotalSeconds;
            if (stats.CompletionTokens > 0 && stats.Decode > TimeSpan.Zero)
            {
                _lastDecodeTokensPerSecond = stats.CompletionTokens / stats.Decode.TotalSeconds;
            }
        }
    }

    public string Render()
    {
        var text = new StringBuilder();
        void Line(FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("# HELP lcg_backend_requests_total Requests by endpoint, attention method and status.\n# TYPE lcg_backend_requests_total counter\n");
        foreach (var ((endpoint, method, status), count) in _requests.OrderBy(r => r.Key.Endpoint, StringComparer.Ordinal).ThenBy(r => r.Key.Method, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            Line($"lcg_backend_requests_total{{endpoint=\"{endpoint}\",method=\"{method}\",status=\"{status}\"}} {count}");
        }

        lock (_gate)
        {
            text.Append("# HELP lcg_backend_prefill_seconds Time spent in prompt prefill.\n# TYPE lcg_backend_prefill_seconds summary\n");
            Line($"lcg_backend_prefill_seconds_sum {_prefillSeconds}");
            Line($"lcg_backend_prefill_seconds_count {_prefills}");
            text.Append("# HELP lcg_backend_prompt_tokens_total Prompt tokens prefilled.\n# TYPE lcg_backend_prompt_tokens_total counter\n");
            Line($"lcg_backend_prompt_tokens_total {_promptTokens}");
            text.Append("# HELP lcg_backend_decode_tokens_total Tokens generated.\n# TYPE lcg_backend_decode_tokens_total counter\n");
            Line($"lcg_backend_decode_tokens_total {_completionTokens}");
            text.Append("# HELP lcg_backend_decode_seconds_total Time spent decoding.\n# TYPE lcg_backend_decode_seconds_total counter\n");
            Line($"lcg_backend_decode_seconds_total {_decodeSeconds}");
            text.Append("# HELP lcg_backend_decode_tokens_per_second Decode speed of the latest request.\n# TYPE lcg_backend_decode_tokens_per_second gauge\n");
            Line($"lcg_backend_decode_tokens_per_second {_lastDecodeTokensPerSecond}");
        }

        text.Append("# HELP lcg_backend_kv_bytes_in_use KV-cache bytes held by requests in progress (planned).\n# TYPE lcg_backend_kv_bytes_in_use gauge\n");
        Line($"lcg_backend_kv_bytes_in_use {Interlocked.Read(ref _kvBytesInUse)}");
        text.Append("# HELP lcg_backend_kv_bytes_peak Largest KV-cache bytes held at once.\n# TYPE lcg_backend_kv_bytes_peak gauge\n");
        Line($"lcg_backend_kv_bytes_peak {Interlocked.Read(ref _kvBytesPeak)}");
        return text.ToString();
    }
}
