using System.Buffers;
using System.Text.Json;

namespace LongContext.Gateway.Accounting;

/// <summary>Token usage as the upstream reported it.</summary>
internal sealed record UpstreamUsage(long PromptTokens, long CachedPromptTokens, long CompletionTokens);

/// <summary>
/// Sits between YARP and the client's response body and reads the upstream's <c>usage</c> as the
/// answer passes through, so spend is settled from what the upstream really counted.
/// A JSON answer is passed through as written and a copy (bounded) parsed at the end. An event
/// stream is passed on event by event (never held past its terminating blank line); the
/// usage-only chunk the gateway asked for on the client's behalf is dropped when the client did
/// not ask for usage itself.
/// </summary>
internal sealed class UsageMeteringStream(Stream inner, HttpResponse response, bool dropUsageOnlyChunk) : Stream
{
    private const int MaxCapturedJsonBytes = 4 * 1024 * 1024;

    private readonly ArrayBufferWriter<byte> _pending = new();
    private MemoryStream? _json;
    private bool? _eventStream;

    public UpstreamUsage? Usage { get; private set; }

    /// <summary>True once any byte of the answer went to the client.</summary>
    public bool Wrote { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _eventStream ??= response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        if (_eventStream == true)
        {
            _pending.Write(buffer.Span);
            await WriteCompleteEventsAsync(cancellationToken);
            return;
        }

        if (_json is null || _json.Length + buffer.Length <= MaxCapturedJsonBytes)
        {
            (_json ??= new MemoryStream()).Write(buffer.Span);
        }

        Wrote = true;
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    /// <summary>Passes on whatever is left (an unterminated last event) and reads a JSON answer's usage.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_pending.WrittenCount > 0)
        {
            Inspect(_pending.WrittenSpan);
            Wrote = true;
            await inner.WriteAsync(_pending.WrittenMemory, cancellationToken);
            _pending.Clear();
        }

        if (_json is { Length: > 0 } json && json.Length <= MaxCapturedJsonBytes)
        {
            try
            {
                using var document = JsonDocument.Parse(json.GetBuffer().AsMemory(0, (int)json.Length));
                Usage = Read(document.RootElement) ?? Usage;
            }
            catch (JsonException)
            {
                // Not JSON (an upstream's HTML error page): there is no usage to read.
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private async Task WriteCompleteEventsAsync(CancellationToken cancellationToken)
    {
        var consumed = 0;
        var forwardFrom = 0;
        var written = _pending.WrittenMemory;
        var chunks = new List<ReadOnlyMemory<byte>>();
        while (EventEnd(written.Span[consumed..]) is { } end)
        {
            var evt = written.Slice(consumed, end);
            if (Inspect(evt.Span))
            {
                chunks.Add(written[forwardFrom..consumed]);
                forwardFrom = consumed + end;
            }

            consumed += end;
        }

        chunks.Add(written[forwardFrom..consumed]);
        foreach (var chunk in chunks.Where(c => c.Length > 0))
        {
            Wrote = true;
            await inner.WriteAsync(chunk, cancellationToken);
        }

        var rest = written[consumed..].ToArray();
        _pending.Clear();
        _pending.Write(rest);
    }

    /// <summary>Length of the first complete event including its blank line, or null when none is complete yet.</summary>
    private static int? EventEnd(ReadOnlySpan<byte> data)
    {
        var lf = data.IndexOf("\n\n"u8);
        var crlf = data.IndexOf("\r\n\r\n"u8);
        return (lf, crlf) switch
        {
            (< 0, < 0) => null,
            (>= 0, < 0) => lf + 2,
            (< 0, >= 0) => crlf + 4,
            _ => Math.Min(lf + 2, crlf + 4),
        };
    }

    /// <summary>Reads usage from an event's data; true when the event is a usage-only chunk to drop.</summary>
    private bool Inspect(ReadOnlySpan<byte> evt)
    {
        if (evt.IndexOf("\"usage\""u8) < 0)
        {
            return false;
        }

        var drop = false;
        foreach (var range in evt.Split((byte)'\n'))
        {
            var line = evt[range].TrimEnd((byte)'\r');
            if (!line.StartsWith("data:"u8))
            {
                continue;
            }

            var payload = line[5..].TrimStart((byte)' ');
            try
            {
                using var document = JsonDocument.Parse(payload.ToArray());
                if (Read(document.RootElement) is { } usage)
                {
                    Usage = usage;
                    drop |= dropUsageOnlyChunk
                        && document.RootElement.TryGetProperty("choices", out var choices)
                        && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() == 0;
                }
            }
            catch (JsonException)
            {
                // [DONE] and other non-JSON data lines carry no usage.
            }
        }

        return drop;
    }

    private static UpstreamUsage? Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var cached = usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
            ? Number(details, "cached_tokens")
            : 0;
        return new UpstreamUsage(Number(usage, "prompt_tokens"), cached, Number(usage, "completion_tokens"));
    }

    private static long Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : 0;
}
