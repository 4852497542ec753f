using LongContext.Ledger.Spend;
using LongContext.Ledger.Sqlite;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Tests;

public sealed class SqliteSpendLedgerTests : SpendLedgerContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-ledger-").FullName;

    protected override async Task<ISpendLedger> OpenAsync() => await SqliteSpendLedger.OpenAsync(Path.Combine(_directory, "ledger.db"));

    [Fact]
    public async Task LedgerFromBeforeTheHybridColumns_GetsThem_AndKeepsItsRows()
    {
        var path = Path.Combine(_directory, "old.db");
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            // The decisions table as the first schema had it, with one row.
            create.CommandText = """
                CREATE TABLE decisions (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at INTEGER NOT NULL, outcome TEXT NOT NULL, status TEXT NOT NULL,
                    route TEXT, candidate TEXT, model TEXT, attention TEXT, forced INTEGER NOT NULL, estimated_cost INTEGER, reserved INTEGER, actual_cost INTEGER,
                    expected_recall REAL, estimated_prompt INTEGER NOT NULL, prompt_tokens INTEGER, cached_tokens INTEGER, completion_tokens INTEGER,
                    reservation_id TEXT, counterfactuals TEXT NOT NULL, explanation TEXT NOT NULL, detail TEXT NOT NULL);
                INSERT INTO decisions VALUES ('0193a4c2-0000-7000-8000-000000000001', 'acme', 1, 'routed', 'completed', 'rag', NULL, NULL, NULL, 0,
                    NULL, NULL, 1000, NULL, 10, NULL, NULL, NULL, NULL, '{}', 'old row', '{}');
                """;
            await create.ExecuteNonQueryAsync();
        }

        var log = await SqliteSpendLedger.OpenAsync(path);

        var old = Assert.Single(await log.ListAsync("acme", DateTimeOffset.UnixEpoch, 10));
        Assert.Equal(("old row", null, (bool?)null), (old.Explanation, old.Corpus, old.Escalated));
        Assert.Equal(new LongContext.Ledger.Decisions.EscalationCounts(0, 0), await log.CountEscalationsAsync("acme", "vs_1", DateTimeOffset.UnixEpoch));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
