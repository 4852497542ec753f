using LongContext.Gateway.Configuration;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Routing;
using LongContext.Ledger.Decisions;
using LongContext.Ledger.Postgres;
using LongContext.Ledger.Spend;
using LongContext.Ledger.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LongContext.Gateway.Accounting;

/// <summary>The configured store for spend and decisions: one SQLite file by default, PostgreSQL when several gateways share a budget.</summary>
internal sealed class LedgerStore : IAsyncDisposable
{
    private ISpendLedger? _spend;
    private IDecisionLog? _decisions;
    private IEvaluationLog? _evaluations;
    private IAsyncDisposable? _owned;

    public ISpendLedger Spend => _spend ?? throw new InvalidOperationException("The ledger is opened when the gateway starts.");

    public IDecisionLog Decisions => _decisions ?? throw new InvalidOperationException("The ledger is opened when the gateway starts.");

    /// <summary>Measured recall from evaluation runs, in the same store.</summary>
    public IEvaluationLog Evaluations => _evaluations ?? throw new InvalidOperationException("The ledger is opened when the gateway starts.");

    /// <summary>Where the ledger lives, for the start-up log.</summary>
    public string Location { get; private set; } = "";

    public async Task OpenAsync(LedgerConfig config, string contentRoot, CancellationToken cancellationToken)
    {
        if (string.Equals(config.Store, LedgerValidator.Postgres, StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var postgres = await PostgresSpendLedger.OpenAsync(config.PostgresConnectionString!, cancellationToken);
                (_spend, _decisions, _evaluations, _owned) = (postgres, postgres, postgres, postgres);
                Location = "PostgreSQL " + new NpgsqlConnectionStringBuilder(config.PostgresConnectionString) { Password = null }.ToString();
            }
            catch (Exception e) when (e is NpgsqlException or ArgumentException or InvalidOperationException)
            {
                throw new GatewayStartupException($"Ledger:PostgresConnectionString: the PostgreSQL ledger cannot be opened: {e.Message}");
            }

            return;
        }

        var path = SqlitePath(config, contentRoot);
        try
        {
            var sqlite = await SqliteSpendLedger.OpenAsync(path, config.SqliteSynchronous == "Full" ? SqliteDurability.Full : SqliteDurability.Normal, cancellationToken);
            (_spend, _decisions, _evaluations, _owned) = (sqlite, sqlite, sqlite, sqlite);
            Location = "SQLite " + path;
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new GatewayStartupException($"Ledger:SqlitePath: the SQLite ledger {path} cannot be opened: {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned is not null)
        {
            await _owned.DisposeAsync();
        }
    }

    /// <summary>A relative path is relative to the settings file; none puts the file in the user's local data folder, outside build output.</summary>
    private static string SqlitePath(LedgerConfig config, string contentRoot)
    {
        if (!string.IsNullOrWhiteSpace(config.SqlitePath))
        {
            return Path.GetFullPath(config.SqlitePath, contentRoot);
        }

        var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        return string.IsNullOrEmpty(data)
            ? Path.Combine(contentRoot, "data", "ledger.db")
            : Path.Combine(data, "LongContext.Gateway", "ledger.db");
    }
}

/// <summary>Builds what must exist before the first request (routing catalog, ledger), so bad config stops the start, not a request.</summary>
internal sealed partial class GatewayStartup(IServiceProvider services, LedgerStore ledger, Corpora.CorpusServices corpora, IOptions<GatewaySettings> settings, IHostEnvironment environment, ILogger<GatewayStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var routing = services.GetRequiredService<RoutingCatalog>();
        services.GetRequiredService<SelfRoute.SelfRoutePrompt>(); // a missing or broken prompt template fails the start, naming its key
        await ledger.OpenAsync(settings.Value.Ledger, environment.ContentRootPath, cancellationToken);
        await corpora.OpenAsync(environment.ContentRootPath, cancellationToken);
        LogReady(logger, routing.Profiles.Count, routing.Curves.Count, ledger.Location, corpora.Location);
        foreach (var profile in routing.Profiles.Values.Where(p => p.UnavailableBecause is not null))
        {
            LogUnavailable(logger, profile.Id, profile.UnavailableBecause!);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Routing {Models} chat models with {Curves} context-rot curves; ledger: {Ledger}; corpora: {Corpora}")]
    private static partial void LogReady(ILogger logger, int models, int curves, string ledger, string corpora);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} is listed in routing decisions but not called: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string model, string reason);
}
