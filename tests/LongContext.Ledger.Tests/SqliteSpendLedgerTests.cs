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

    [Fact]
    public async Task LedgerFromBeforeTheRunningTotals_GetsThemFromItsReservations()
    {
        var path = Path.Combine(_directory, "before-totals.db");
        var now = new DateTimeOffset(2026, 12, 15, 12, 0, 0, TimeSpan.Zero);
        long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            // The reservations table as it was before the totals: committed last month, committed
            // yesterday, committed today, open today, released today, open but expired today.
            create.CommandText = $"""
                CREATE TABLE reservations (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, amount INTEGER NOT NULL, actual INTEGER,
                    state TEXT NOT NULL CHECK (state IN ('open', 'committed', 'released')), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, settled_at INTEGER);
                INSERT INTO reservations VALUES
                    ('a', 'acme', 9000000000, 5000000000, 'committed', {Ms(now.AddMonths(-1))}, {Ms(now.AddMonths(-1).AddMinutes(10))}, NULL),
                    ('b', 'acme', 900000000, 300000000, 'committed', {Ms(now.AddDays(-1))}, {Ms(now.AddDays(-1).AddMinutes(10))}, NULL),
                    ('c', 'acme', 500000000, 200000000, 'committed', {Ms(now.AddHours(-2))}, {Ms(now.AddHours(-2).AddMinutes(10))}, NULL),
                    ('d', 'acme', 400000000, NULL, 'open', {Ms(now.AddMinutes(-1))}, {Ms(now.AddMinutes(9))}, NULL),
                    ('e', 'acme', 700000000, NULL, 'released', {Ms(now.AddMinutes(-1))}, {Ms(now.AddMinutes(9))}, NULL),
                    ('f', 'acme', 800000000, NULL, 'open', {Ms(now.AddHours(-1))}, {Ms(now.AddMinutes(-50))}, NULL);
                """;
            await create.ExecuteNonQueryAsync();
        }

        var ledger = await SqliteSpendLedger.OpenAsync(path);

        // Month: 0.30 + 0.20 committed + 0.40 held; day: 0.20 + 0.40. The expired and released ones hold nothing.
        var usage = await ledger.GetUsageAsync("acme", now);
        Assert.Equal((0.90m, 0.60m), (usage.MonthUsd, usage.DayUsd));
        var reserved = await ledger.ReserveAsync(new("acme", 0.10m, new BudgetLimits(1m, null), now, TimeSpan.FromMinutes(10)));
        Assert.Equal(0m, reserved.MonthlyRemainingUsd);
        Assert.True(await ledger.CommitAsync(Guid.Parse(reserved.ReservationId!.Value.ToString()), 0.05m));
        await ledger.DisposeAsync();
        var reopened = await SqliteSpendLedger.OpenAsync(path);
        Assert.Equal((0.95m, 0.65m), ((await reopened.GetUsageAsync("acme", now)).MonthUsd, (await reopened.GetUsageAsync("acme", now)).DayUsd));
    }

    [Fact]
    public async Task TwoHandlesOnOneFile_LikeTwoProcesses_NeverOverspendTogether()
    {
        var path = Path.Combine(_directory, "shared.db");
        await using var first = await SqliteSpendLedger.OpenAsync(path);
        await using var second = await SqliteSpendLedger.OpenAsync(path);
        var now = DateTimeOffset.UtcNow;
        var limits = new BudgetLimits(1.00m, null);

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            (i % 2 == 0 ? first : second).ReserveAsync(new("acme", 0.01m, limits, now, TimeSpan.FromMinutes(10)))));

        Assert.Equal(100, results.Count(r => r.Granted));
        Assert.Equal(1.00m, (await first.GetUsageAsync("acme", now)).MonthUsd);
        Assert.Equal(1.00m, (await second.GetUsageAsync("acme", now)).MonthUsd);
    }

    [Theory]
    [InlineData(SqliteDurability.Full)]
    [InlineData(SqliteDurability.Normal)]
    public async Task FullDurability_FlushesTheLogBeforeACommitIsAnswered_ForSeveralBatchesAtOnce_NormalLeavesItToCheckpoints(SqliteDurability durability)
    {
        await using var ledger = await SqliteSpendLedger.OpenAsync(Path.Combine(_directory, $"{durability}.db"), durability);
        var now = DateTimeOffset.UtcNow;

        var held = await ledger.ReserveAsync(new("acme", 0.001m, new BudgetLimits(10m, null), now, TimeSpan.FromMinutes(10)));
        var flushesForAHold = ledger.Writes.LogFlushes;
        for (var wave = 0; wave < 5; wave++)
        {
            await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
            {
                var r = await ledger.ReserveAsync(new("acme", 0.001m, new BudgetLimits(10m, null), now, TimeSpan.FromMinutes(10)));
                Assert.True(await ledger.CommitAsync(r.ReservationId!.Value, 0.0005m));
            }));
        }

        // A hold does not wait for the disk; 1,000 commits are flushed by the sync thread several
        // at a time, never once per commit.
        var flushes = ledger.Writes.LogFlushes;
        Assert.Equal(0, flushesForAHold);
        Assert.True(held.Granted);
        if (durability == SqliteDurability.Full)
        {
            Assert.InRange(flushes, 1, 999);
        }
        else
        {
            Assert.Equal(0, flushes);
        }
    }

    [Fact]
    public async Task AfterDispose_AWriteIsRefusedClearly_AndEverythingBeforeItIsKept()
    {
        var path = Path.Combine(_directory, "closed.db");
        var ledger = await SqliteSpendLedger.OpenAsync(path);
        var now = DateTimeOffset.UtcNow;
        var writes = Enumerable.Range(0, 50).Select(_ => ledger.ReserveAsync(new("acme", 0.01m, new BudgetLimits(1m, null), now, TimeSpan.FromMinutes(10)))).ToArray();
        await ledger.DisposeAsync();
        await ledger.DisposeAsync();

        Assert.All(writes, w => Assert.True(w.IsCompletedSuccessfully && w.Result.Granted));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.ReserveAsync(new("acme", 0.01m, new BudgetLimits(1m, null), now, TimeSpan.FromMinutes(10))));
        await using var reopened = await SqliteSpendLedger.OpenAsync(path);
        Assert.Equal(0.50m, (await reopened.GetUsageAsync("acme", now)).MonthUsd);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>The same contract with the log flushed at checkpoints only.</summary>
public sealed class SqliteNormalDurabilitySpendLedgerTests : SpendLedgerContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-ledger-normal-").FullName;

    protected override async Task<ISpendLedger> OpenAsync() =>
        await SqliteSpendLedger.OpenAsync(Path.Combine(_directory, "ledger.db"), SqliteDurability.Normal);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
