using LongContext.Ledger.Postgres;
using LongContext.Ledger.Spend;
using Npgsql;

namespace LongContext.Ledger.Tests;

/// <summary>
/// The ledger contract against a real PostgreSQL server: <c>scripts/test.sh</c> starts one and
/// sets <c>LCG_TEST_POSTGRES</c>. Each test gets its own schema, dropped afterwards.
/// </summary>
public sealed class PostgresSpendLedgerTests : SpendLedgerContractTests, IAsyncLifetime
{
    private readonly string _schema = "ledger_test_" + Guid.NewGuid().ToString("N");
    private readonly List<PostgresSpendLedger> _opened = [];

    private static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("LCG_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("LCG_TEST_POSTGRES is not set: run the tests with scripts/test.sh, which starts PostgreSQL, or point it at a server.");

    public async Task InitializeAsync()
    {
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE SCHEMA {_schema}", connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var ledger in _opened)
        {
            await ledger.DisposeAsync();
        }

        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA {_schema} CASCADE", connection);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<ISpendLedger> OpenAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(ServerConnectionString) { SearchPath = _schema };
        var ledger = await PostgresSpendLedger.OpenAsync(builder.ConnectionString);
        _opened.Add(ledger);
        return ledger;
    }
}
