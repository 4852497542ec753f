using LongContext.Routing.Decision;

namespace LongContext.Gateway.Configuration;

/// <summary>
/// Everything the gateway reads from its settings file and the config/ files it includes.
/// Bound from the configuration root: the section names below are the top-level keys.
/// </summary>
public sealed record GatewaySettings
{
    public GatewayHostSettings Gateway { get; init; } = new();

    /// <summary>Tenants by id (config/tenants.json).</summary>
    public Dictionary<string, TenantConfig> Tenants { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Model aliases a tenant may send, by alias (config/models.json).</summary>
    public Dictionary<string, ModelConfig> Models { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Upstream clusters by name (config/upstreams.json).</summary>
    public Dictionary<string, UpstreamConfig> Upstreams { get; init; } = new(StringComparer.Ordinal);

    /// <summary>How requests are measured, scored and routed (config/routing.json).</summary>
    public RoutingConfig Routing { get; init; } = new();

    /// <summary>Where spend and decisions are stored.</summary>
    public LedgerConfig Ledger { get; init; } = new();

    /// <summary>Tenants' corpora: vector store, chunking, embedding model, retrieval (config/corpora.json).</summary>
    public CorporaConfig Corpora { get; init; } = new();

    /// <summary>Metrics and traces.</summary>
    public TelemetryConfig Telemetry { get; init; } = new();
}

public sealed record TelemetryConfig
{
    /// <summary>Serve the gateway's metrics in Prometheus text format at <see cref="MetricsPath"/>.</summary>
    public bool PrometheusEnabled { get; init; } = true;

    public string MetricsPath { get; init; } = "/metrics";

    /// <summary>An OTLP collector (http://host:4317 for gRPC, or :4318 with <see cref="OtlpProtocol"/> HttpProtobuf); null = traces are not exported.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>Grpc or HttpProtobuf.</summary>
    public string OtlpProtocol { get; init; } = "Grpc";

    public string ServiceName { get; init; } = "longcontext-gateway";
}

public sealed record CorporaConfig
{
    /// <summary>Embedded (SQLite + FTS5 + HNSW in one folder, the default) or Qdrant.</summary>
    public string Store { get; init; } = "Embedded";

    public QdrantConfig Qdrant { get; init; } = new();

    /// <summary>The embedded store's folder, relative to the settings file; empty puts it in the user's local data folder.</summary>
    public string Directory { get; init; } = "";

    /// <summary>Corpora with fewer chunks are searched exactly; larger ones through the HNSW index.</summary>
    public int ExactSearchBelow { get; init; } = 20_000;

    /// <summary>Tokenizer that chunks and counts corpora.</summary>
    public string Tokenizer { get; init; } = "o200k_base";

    /// <summary>Tokens repeated between neighbouring chunks (chunk size is Routing:Rag:ChunkTokens).</summary>
    public int OverlapTokens { get; init; } = 32;

    /// <summary>Largest document body accepted in one ingestion request.</summary>
    public long MaxIngestBytes { get; init; } = 256L * 1024 * 1024;

    public EmbeddingsConfig Embeddings { get; init; } = new();

    public RetrievalConfig Retrieval { get; init; } = new();
}

public sealed record QdrantConfig
{
    /// <summary>Qdrant's gRPC address, e.g. http://127.0.0.1:6334.</summary>
    public string? Address { get; init; }

    /// <summary>Set through the environment (Corpora__Qdrant__ApiKey).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Prefix of the collections the gateway owns, so several deployments can share one Qdrant.</summary>
    public string CollectionPrefix { get; init; } = "lcg_";
}

public sealed record EmbeddingsConfig
{
    /// <summary>MiniLm (local all-MiniLM-L6-v2, the default) or OpenAI (any OpenAI-compatible embeddings endpoint).</summary>
    public string Provider { get; init; } = "MiniLm";

    public int BatchSize { get; init; } = 64;

    /// <summary>OpenAI provider: base address of the API, e.g. https://api.openai.com/v1/.</summary>
    public string? Endpoint { get; init; }

    public string? Model { get; init; }

    /// <summary>Set through the environment (Corpora__Embeddings__ApiKey).</summary>
    public string? ApiKey { get; init; }

    public int? Dimensions { get; init; }
}

public sealed record RetrievalConfig
{
    /// <summary>Results each of dense and keyword search contributes before fusion.</summary>
    public int CandidatesPerMethod { get; init; } = 50;

    /// <summary>Reciprocal-rank fusion constant (Cormack et al. 2009 use 60).</summary>
    public int FusionK { get; init; } = 60;

    public bool UseMmr { get; init; }

    public double MmrLambda { get; init; } = 0.7;

    /// <summary>Repeat the question before and after the context in assembled prompts.</summary>
    public bool RepeatQuestion { get; init; }
}

public sealed record GatewayHostSettings
{
    /// <summary>Further JSON files merged into the configuration, relative to the settings file.</summary>
    public List<string> Include { get; init; } = [];

    public LimitsConfig Limits { get; init; } = new();

    /// <summary>SHA-256 hex digests of the admin keys that open /dashboard and /api/dashboard; none = the dashboard is off.</summary>
    public List<string> AdminKeyHashes { get; init; } = [];

    /// <summary>Browser origins allowed to call the API across origins; none (the default) sends no CORS headers at all.</summary>
    public List<string> CorsAllowedOrigins { get; init; } = [];

    /// <summary>An unrouted, unmetered path straight to one upstream (off unless Upstream is set).</summary>
    public PassthroughConfig Passthrough { get; init; } = new();
}

/// <summary>
/// Requests under PathPrefix go to the named upstream as they came (the tenant's key checked and
/// replaced by the upstream's), for the provider endpoints the gateway does not route (files,
/// batches, moderations, …). Nothing about them is decided, reserved or logged in the ledger:
/// their spend is not in the tenant's budget, so turn it on only for tenants that may spend freely.
/// </summary>
public sealed record PassthroughConfig
{
    /// <summary>The upstream cluster that gets the requests; null turns the passthrough off.</summary>
    public string? Upstream { get; init; }

    public string PathPrefix { get; init; } = "/passthrough";
}

public sealed record LimitsConfig
{
    /// <summary>Largest request body accepted on the API; larger bodies get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a request body.</summary>
    public int MaxJsonDepth { get; init; } = 64;

    /// <summary>How long a client may take to send its request headers before the connection is closed.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Slowest request body accepted, after <see cref="MinRequestBodyGracePeriod"/>: slower clients get 408 and are disconnected.</summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;

    public TimeSpan MinRequestBodyGracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}

public sealed record TenantConfig
{
    public string? DisplayName { get; init; }

    /// <summary>SHA-256 hex digests of the tenant's API keys; the keys themselves are never stored.</summary>
    public List<string> ApiKeyHashes { get; init; } = [];

    /// <summary>Model aliases the tenant may use; <c>*</c> allows every model in the catalog.</summary>
    public List<string> AllowedModels { get; init; } = [];

    /// <summary>Budgets, caps and the routing objective; without one the tenant has no budget limits.</summary>
    public PolicyConfig Policy { get; init; } = new();

    /// <summary>Requests and tokens per minute; unset limits do not apply.</summary>
    public RateLimitsConfig RateLimits { get; init; } = new();
}

/// <summary>
/// A tenant's rate limits, each a bucket refilled evenly over the minute (so a burst up to the
/// limit passes and the rest wait their turn). Tokens are the request's prompt plus its largest
/// possible answer as routing counted them. Counted per gateway process.
/// </summary>
public sealed record RateLimitsConfig
{
    public int? RequestsPerMinute { get; init; }

    public int? TokensPerMinute { get; init; }
}

public sealed record PolicyConfig
{
    public decimal? MonthlyBudgetUsd { get; init; }

    public decimal? DailyBudgetUsd { get; init; }

    public decimal? MaxCostPerRequestUsd { get; init; }

    /// <summary>Lowest expected recall accepted when some route can meet it.</summary>
    public double RecallFloor { get; init; } = 0.8;

    /// <summary>MinCostAtRecall (cheapest meeting the recall floor) or MaxRecallUnderCap (best recall under the per-request cap).</summary>
    public string Objective { get; init; } = "MinCostAtRecall";

    /// <summary>rag, long_context, hybrid; empty allows all.</summary>
    public List<string> AllowedRoutes { get; init; } = [];

    /// <summary>Whether a client may force a route (X-LCG-Route header or the request's "lcg.route").</summary>
    public bool AllowForcedRoute { get; init; } = true;
}

public sealed record ModelConfig
{
    /// <summary>Name of the upstream cluster that serves this model.</summary>
    public string Upstream { get; init; } = "";

    /// <summary>The model id the upstream knows; defaults to the alias itself.</summary>
    public string? UpstreamModel { get; init; }

    public ModelKind Kind { get; init; } = ModelKind.Chat;

    public string OwnedBy { get; init; } = "longcontext-gateway";

    /// <summary>What routing needs to score the model: window, prices, tokenizer, context rot. Required for chat models.</summary>
    public ModelRoutingConfig? Routing { get; init; }

    /// <summary>The body field that caps output tokens for this upstream: max_tokens (most servers) or max_completion_tokens (OpenAI's newer models).</summary>
    public string MaxTokensField { get; init; } = "max_tokens";

    /// <summary>Extra headers sent upstream with this model's requests (e.g. a provider's beta flag).</summary>
    public Dictionary<string, string> UpstreamHeaders { get; init; } = new(StringComparer.OrdinalIgnoreCase);
}

public sealed record ModelRoutingConfig
{
    public long ContextWindow { get; init; }

    /// <summary>o200k_base or cl100k_base; any other value (or none) counts about 4 characters per token and says so.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Name of a curve file under Routing:ContextRotDirectory.</summary>
    public string ContextRot { get; init; } = "";

    /// <summary>Provider list prices; give these or SelfHosted, not both.</summary>
    public PricesConfig? Prices { get; init; }

    /// <summary>For the project's own backend: priced from GPU-hours and throughput, KV memory checked per attention method.</summary>
    public SelfHostedConfig? SelfHosted { get; init; }

    public bool ServesRag { get; init; } = true;

    public bool ServesLongContext { get; init; } = true;

    public double PrefillTokensPerSecond { get; init; } = 10_000;

    public double DecodeTokensPerSecond { get; init; } = 60;

    /// <summary>Where the window, prices and speeds come from.</summary>
    public string? Source { get; init; }
}

public sealed record PricesConfig
{
    public decimal InputPerMillion { get; init; }

    public decimal? CachedInputPerMillion { get; init; }

    public decimal OutputPerMillion { get; init; }

    /// <summary>A tier that prices the whole request once the prompt exceeds AbovePromptTokens.</summary>
    public LongPromptPricesConfig? LongPrompt { get; init; }
}

public sealed record LongPromptPricesConfig
{
    public long AbovePromptTokens { get; init; }

    public decimal InputPerMillion { get; init; }

    public decimal? CachedInputPerMillion { get; init; }

    public decimal OutputPerMillion { get; init; }
}

public sealed record SelfHostedConfig
{
    public decimal GpuHourUsd { get; init; }

    public int Gpus { get; init; } = 1;

    public double GpuMemoryGb { get; init; }

    /// <summary>Weights and activations per GPU, not available to the KV cache.</summary>
    public double ReservedGbPerGpu { get; init; }

    public KvShapeConfig Kv { get; init; } = new();

    /// <summary>Attention methods the backend offers, by name (full, ring, star, infini, sparse).</summary>
    public Dictionary<string, AttentionMethodConfig> Attention { get; init; } = new(StringComparer.Ordinal);
}

public sealed record KvShapeConfig
{
    public int Layers { get; init; }

    public int KvHeads { get; init; }

    public int HeadDim { get; init; }

    public int BytesPerValue { get; init; } = 2;
}

public sealed record AttentionMethodConfig
{
    public double RecallFactor { get; init; } = 1;

    public bool ShardsKvOverGpus { get; init; }

    public long? KvTokenLimit { get; init; }

    public double ThroughputFactor { get; init; } = 1;

    public string? Source { get; init; }
}

public sealed record RoutingConfig
{
    /// <summary>The model name that lets the gateway choose the model as well as the route.</summary>
    public string AutoModel { get; init; } = "auto";

    /// <summary>Folder of context-rot curve files, relative to the settings file.</summary>
    public string ContextRotDirectory { get; init; } = "config/context-rot";

    /// <summary>Output tokens reserved when the client sets no max_tokens; the gateway then caps the upstream at this.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 1024;

    /// <summary>Tokenizer used to measure a request when the model is chosen by routing (AutoModel).</summary>
    public string ReferenceTokenizer { get; init; } = "o200k_base";

    /// <summary>How long a reservation holds budget if its request never settles (a crashed gateway).</summary>
    public TimeSpan ReservationTimeToLive { get; init; } = TimeSpan.FromHours(1);

    public RagConfig Rag { get; init; } = new();

    public HybridConfig Hybrid { get; init; } = new();
}

/// <summary>How the hybrid (self-route) route runs: its prompt, its marker, and how its escalation rate is learned.</summary>
public sealed record HybridConfig
{
    /// <summary>The RAG-and-route instruction, a Semantic Kernel prompt template ({{$context}}, {{$marker}}, {{$question}}), relative to the settings file.</summary>
    public string PromptTemplate { get; init; } = "config/prompts/self-route.txt";

    /// <summary>What the model replies when the chunks cannot answer; never shown to the client.</summary>
    public string Marker { get; init; } = "[[INSUFFICIENT_CONTEXT]]";

    /// <summary>How many observations the prior (Routing:Rag:EscalationProbability) counts as in the learned escalation rate.</summary>
    public double PriorWeight { get; init; } = 10;

    /// <summary>How far back observed escalations count.</summary>
    public TimeSpan ObservationWindow { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// <c>Routing:Rag</c>: the RAG and hybrid routes' costing, bound from config. Its defaults are the
/// routing core's (<see cref="RagSettings"/>), so they are written down once.
/// </summary>
public sealed record RagConfig
{
    private static readonly RagSettings Defaults = new();

    /// <inheritdoc cref="RagSettings.TopK"/>
    public int TopK { get; init; } = Defaults.TopK;

    /// <inheritdoc cref="RagSettings.ChunkTokens"/>
    public int ChunkTokens { get; init; } = Defaults.ChunkTokens;

    /// <inheritdoc cref="RagSettings.PromptOverheadTokens"/>
    public int PromptOverheadTokens { get; init; } = Defaults.PromptOverheadTokens;

    /// <inheritdoc cref="RagSettings.RetrievalRecall"/>
    public double RetrievalRecall { get; init; } = Defaults.RetrievalRecall;

    /// <inheritdoc cref="RagSettings.EmbeddingPerMillion"/>
    public decimal EmbeddingPerMillion { get; init; } = Defaults.EmbeddingPerMillion;

    /// <inheritdoc cref="RagSettings.RetrievalLatencySeconds"/>
    public double RetrievalLatencySeconds { get; init; } = Defaults.RetrievalLatencySeconds;

    /// <inheritdoc cref="RagSettings.EscalationProbability"/>
    public double EscalationProbability { get; init; } = Defaults.EscalationProbability;

    /// <inheritdoc cref="RagSettings.IndexingTokensPerSecond"/>
    public double IndexingTokensPerSecond { get; init; } = Defaults.IndexingTokensPerSecond;

    /// <summary>Where each number comes from, by field name (documentation kept next to the values).</summary>
    public Dictionary<string, string> Sources { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The values as the routing core takes them.</summary>
    public RagSettings ToSettings() => new()
    {
        TopK = TopK,
        ChunkTokens = ChunkTokens,
        PromptOverheadTokens = PromptOverheadTokens,
        RetrievalRecall = RetrievalRecall,
        EmbeddingPerMillion = EmbeddingPerMillion,
        RetrievalLatencySeconds = RetrievalLatencySeconds,
        EscalationProbability = EscalationProbability,
        IndexingTokensPerSecond = IndexingTokensPerSecond,
    };
}

public sealed record LedgerConfig
{
    /// <summary>Sqlite (one file, the default) or Postgres (shared by several gateway instances).</summary>
    public string Store { get; init; } = "Sqlite";

    /// <summary>SQLite file, relative to the settings file; empty puts it in the user's local data folder.</summary>
    public string SqlitePath { get; init; } = "";

    /// <summary>
    /// Full (the default): every committed batch of ledger writes is synced to disk before its
    /// requests go on. Normal: synced at checkpoints only — a crash of the process loses nothing,
    /// a power loss may lose the last moments of commits; 12–14 % more routed requests per
    /// second on the load test's machine.
    /// </summary>
    public string SqliteSynchronous { get; init; } = "Full";

    /// <summary>Npgsql connection string when Store is Postgres; set it through the environment (Ledger__PostgresConnectionString).</summary>
    public string? PostgresConnectionString { get; init; }
}

public enum ModelKind
{
    Chat,
    Embeddings,
}

public sealed record UpstreamConfig
{
    /// <summary>Destinations by name; requests are spread over them in turn.</summary>
    public Dictionary<string, DestinationConfig> Destinations { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Bearer key sent upstream; set it through the environment (Upstreams__NAME__ApiKey), not in files.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Longest silence from the upstream before the request fails with 504.</summary>
    public TimeSpan ActivityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Path under each destination's address that readiness probes with GET.</summary>
    public string HealthPath { get; init; } = "models";

    /// <summary>A provider that needs a key: without ApiKey its models are unavailable (and said to be), not failing.</summary>
    public bool RequiresApiKey { get; init; }

    /// <summary>False keeps the cluster (and its models) configured but out of use, e.g. a GPU backend not deployed here.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Retries, first-byte timeout and circuit breaker for requests to this cluster.</summary>
    public ResilienceConfig Resilience { get; init; } = new();

    /// <summary>Why the cluster cannot be used, or null when it can.</summary>
    public string? UnavailableBecause(string name) =>
        !Enabled ? $"upstream '{name}' is disabled in config (Upstreams:{name}:Enabled)"
        : RequiresApiKey && string.IsNullOrWhiteSpace(ApiKey) ? $"upstream '{name}' has no API key (set Upstreams__{name}__ApiKey)"
        : null;
}

/// <summary>
/// How the gateway rides out an upstream's failures. Only what is safe to repeat is retried:
/// a connection that could not be made, or a 429/5xx answer before any byte of it reached the
/// client; never a request once its answer has started streaming.
/// </summary>
public sealed record ResilienceConfig
{
    /// <summary>Retries after the first attempt (0 turns retrying off).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>The first retry's delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest a 429's Retry-After is honoured; a longer one is not retried.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an attempt may wait for the upstream's response headers (null: only ActivityTimeout applies).</summary>
    public TimeSpan? FirstByteTimeout { get; init; }

    public CircuitBreakerConfig CircuitBreaker { get; init; } = new();
}

/// <summary>Opens the circuit when this share of at least MinimumThroughput attempts in SamplingDuration failed; requests then fail fast (and route elsewhere) for BreakDuration.</summary>
public sealed record CircuitBreakerConfig
{
    public bool Enabled { get; init; } = true;

    public double FailureRatio { get; init; } = 0.5;

    public int MinimumThroughput { get; init; } = 10;

    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record DestinationConfig
{
    /// <summary>Base address of the OpenAI-compatible API, e.g. http://127.0.0.1:8081/v1/.</summary>
    public string Address { get; init; } = "";
}
