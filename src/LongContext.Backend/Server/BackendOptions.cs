using LongContext.Backend.Model;

namespace LongContext.Backend.Server;

/// <summary>The self-hosted backend's settings (section <c>Backend</c>).</summary>
public sealed record BackendOptions
{
    /// <summary>A Hugging Face-layout model folder; relative paths are read from the application's folder.</summary>
    public string ModelDirectory { get; init; } = "models/lcg-reference";

    /// <summary>The model id the server answers to and lists.</summary>
    public string ServedModelId { get; init; } = "lcg-reference";

    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>CUDA devices that ring attention spreads its ranks over (context parallelism on one host); empty = all ranks on <see cref="Device"/>.</summary>
    public IReadOnlyList<string> RingDevices { get; init; } = [];

    /// <summary>float32, float16 or bfloat16.</summary>
    public string Dtype { get; init; } = "float32";

    public AttentionSettings Attention { get; init; } = new();

    /// <summary>Longest prompt + completion accepted; null = the model's max_position_embeddings.</summary>
    public int? MaxContextTokens { get; init; }

    /// <summary>KV-cache bytes one request may hold per device; a request whose planned cache is larger is refused. Null = no limit.</summary>
    public long? MaxKvBytes { get; init; }

    /// <summary>Requests computed at once; the rest wait their turn.</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>libtorch CPU threads; null = its default.</summary>
    public int? Threads { get; init; }

    public int DefaultMaxTokens { get; init; } = 64;

    /// <summary>Checks the settings, naming the key that is wrong.</summary>
    public BackendOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(ServedModelId))
        {
            throw new ArgumentException("Backend:ServedModelId must not be empty.");
        }

        if (Device != "cpu" && Device != "cuda" && !(Device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(Device.AsSpan(5), out _)))
        {
            throw new ArgumentException($"Backend:Device '{Device}' is not cpu, cuda or cuda:N.");
        }

        if (Dtype is not ("float32" or "float16" or "bfloat16"))
        {
            throw new ArgumentException($"Backend:Dtype '{Dtype}' is not float32, float16 or bfloat16.");
        }

        if (Concurrency < 1 || DefaultMaxTokens < 1 || MaxContextTokens is < 1 || MaxKvBytes is < 1 || Threads is < 1)
        {
            throw new ArgumentException("Backend:Concurrency, DefaultMaxTokens, MaxContextTokens, MaxKvBytes and Threads must be positive.");
        }

        try
        {
            Attention.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Backend:Attention: {e.Message}", e);
        }

        return this;
    }
}
