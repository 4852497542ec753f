using LongContext.Ledger.Decisions;
using LongContext.Ledger.Spend;

namespace LongContext.Ledger.Tests;

/// <summary>What every ledger store must do; each store runs these against a real database.</summary>
public abstract class SpendLedgerContractTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    /// <summary>Opens the store under test; a second call opens a second handle on the same data.</summary>
    protected abstract Task<ISpendLedger> OpenAsync();

    [Fact]
    public async Task Reserve_WithinBudget_IsGranted_OverBudget_IsDeniedSayingWhatRemains()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(MonthlyUsd: 1.00m, DailyUsd: null);

        var first = await ledger.ReserveAsync(new("acme", 0.70m, limits, Now, Ttl));
        var second = await ledger.ReserveAsync(new("acme", 0.40m, limits, Now, Ttl));

        Assert.True(first.Granted);
        Assert.Equal(0.30m, first.MonthlyRemainingUsd);
        Assert.False(second.Granted);
        Assert.Equal(0.30m, second.MonthlyRemainingUsd);
        Assert.Null(second.DailyRemainingUsd);
    }

    [Fact]
    public async Task Commit_CountsTheActual_Release_ReturnsTheReservation()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(1.00m, null);
        var a = (await ledger.ReserveAsync(new("acme", 0.50m, limits, Now, Ttl))).ReservationId!.Value;
        var b = (await ledger.ReserveAsync(new("acme", 0.40m, limits, Now, Ttl))).ReservationId!.Value;

        Assert.True(await ledger.CommitAsync(a, 0.123456789m));
        Assert.True(await ledger.ReleaseAsync(b));

        var usage = await ledger.GetUsageAsync("acme", Now);
        Assert.Equal(0.123456789m, usage.MonthUsd);
        Assert.False(await ledger.CommitAsync(a, 0.5m));
        Assert.False(await ledger.CommitAsync(b, 0.5m));
        Assert.False(await ledger.ReleaseAsync(Guid.NewGuid()));
        Assert.Equal(0.123456789m, (await ledger.GetUsageAsync("acme", Now)).MonthUsd);
    }

    [Fact]
    public async Task ExpiredReservation_StopsHoldingBudget_ButALateCommitStillCounts()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(1.00m, null);
        var crashed = (await ledger.ReserveAsync(new("acme", 0.90m, limits, Now, Ttl))).ReservationId!.Value;

        var meanwhile = await ledger.ReserveAsync(new("acme", 0.50m, limits, Now + TimeSpan.FromMinutes(5), Ttl));
        var afterExpiry = await ledger.ReserveAsync(new("acme", 0.50m, limits, Now + Ttl + TimeSpan.FromSeconds(1), Ttl));

        Assert.False(meanwhile.Granted);
        Assert.True(afterExpiry.Granted);
        Assert.True(await ledger.CommitAsync(crashed, 0.20m));
        Assert.Equal(0.70m, (await ledger.GetUsageAsync("acme", Now + Ttl + TimeSpan.FromSeconds(2))).MonthUsd);
    }

    [Fact]
    public async Task DailyAndMonthlyLimits_ApplyToTheirOwnUtcPeriods()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(MonthlyUsd: 10m, DailyUsd: 1m);
        var lastMonth = new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);
        var yesterday = Now.AddDays(-1);
        await Commit(ledger, "acme", 9m, new BudgetLimits(null, null), lastMonth);
        await Commit(ledger, "acme", 0.9m, limits, yesterday);

        var today = await ledger.ReserveAsync(new("acme", 1m, limits, Now, Ttl));
        var overDaily = await ledger.ReserveAsync(new("acme", 0.01m, limits, Now, Ttl));

        Assert.True(today.Granted);
        Assert.Equal(10m - 0.9m - 1m, today.MonthlyRemainingUsd);
        Assert.Equal(0m, today.DailyRemainingUsd);
        Assert.False(overDaily.Granted);
    }

    [Fact]
    public async Task Tenants_HaveSeparateBudgets()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(1m, null);
        await Commit(ledger, "acme", 1m, limits, Now);

        Assert.True((await ledger.ReserveAsync(new("globex", 1m, limits, Now, Ttl))).Granted);
        Assert.False((await ledger.ReserveAsync(new("acme", 0.000001m, limits, Now, Ttl))).Granted);
    }

    [Fact]
    public async Task Restart_LosesNothing()
    {
        var ledger = await OpenAsync();
        await Commit(ledger, "acme", 0.25m, BudgetLimits.None, Now);
        var open = (await ledger.ReserveAsync(new("acme", 0.5m, BudgetLimits.None, Now, Ttl))).ReservationId!.Value;

        var reopened = await OpenAsync();

        Assert.Equal(0.75m, (await reopened.GetUsageAsync("acme", Now)).MonthUsd);
        Assert.True(await reopened.ReleaseAsync(open));
    }

    [Fact]
    public async Task HybridDecisions_KeepTheirSteps_AndAreCountedPerCorpus()
    {
        var log = (IDecisionLog)await OpenAsync();
        var corpus = $"vs_{Guid.NewGuid():N}";
        DecisionRecord Hybrid(bool escalated, decimal rag, decimal? lc, string tenant = "acme", string? on = null) => new()
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant,
            CreatedAt = Now,
            Outcome = "routed",
            Status = DecisionStatuses.Completed,
            Route = "hybrid",
            Corpus = on ?? corpus,
            Escalated = escalated,
            RagStepCostUsd = rag,
            LongContextStepCostUsd = lc,
            ActualCostUsd = rag + (lc ?? 0),
        };

        var escalated = Hybrid(true, 0.0001m, 0.0125m);
        await log.RecordAsync(escalated);
        await log.RecordAsync(Hybrid(false, 0.0002m, null));
        await log.RecordAsync(Hybrid(false, 0.0002m, null));
        await log.RecordAsync(Hybrid(true, 0.0001m, 0.01m, tenant: "globex"));
        await log.RecordAsync(Hybrid(true, 0.0001m, 0.01m, on: "vs_other"));
        await log.RecordAsync(new DecisionRecord { Id = Guid.CreateVersion7(), TenantId = "acme", CreatedAt = Now, Outcome = "routed", Status = DecisionStatuses.Completed, Route = "rag", Corpus = corpus });

        Assert.Equal(new EscalationCounts(3, 1), await log.CountEscalationsAsync("acme", corpus, Now.AddDays(-1)));
        Assert.Equal(new EscalationCounts(0, 0), await log.CountEscalationsAsync("acme", corpus, Now.AddDays(1)));
        var read = await log.GetAsync("acme", escalated.Id);
        Assert.Equal((corpus, true, 0.0001m, 0.0125m), (read!.Corpus, read.Escalated, read.RagStepCostUsd, read.LongContextStepCostUsd));
    }

    [Fact]
    public async Task SettleAndRecord_CommitsAndLogsTogether_Once()
    {
        var ledger = await OpenAsync();
        var log = (IDecisionLog)ledger;
        var tenant = $"t-{Guid.NewGuid():N}";
        DecisionRecord Row(Guid reservation) => new() { Id = Guid.CreateVersion7(), TenantId = tenant, CreatedAt = Now, Outcome = "routed", Status = DecisionStatuses.Completed, ReservationId = reservation, ActualCostUsd = 0.25m };
        var committed = (await ledger.ReserveAsync(new(tenant, 0.5m, BudgetLimits.None, Now, Ttl))).ReservationId!.Value;
        var released = (await ledger.ReserveAsync(new(tenant, 0.5m, BudgetLimits.None, Now, Ttl))).ReservationId!.Value;

        Assert.True(await log.SettleAndRecordAsync(committed, 0.25m, Row(committed)));
        Assert.True(await log.SettleAndRecordAsync(released, null, Row(released)));
        Assert.False(await log.SettleAndRecordAsync(committed, 0.25m, Row(committed)));

        Assert.Equal(0.25m, (await ledger.GetUsageAsync(tenant, Now)).MonthUsd);
        var rows = await log.ListAsync(tenant, Now.AddDays(-1), 10);
        Assert.Equal(2, rows.Count);
        Assert.Equal(new HashSet<Guid> { committed, released }, rows.Select(r => r.ReservationId!.Value).ToHashSet());
    }

    [Fact]
    public async Task Evaluations_AreCountedPerRouteModelAndLength_ForTheirTenant()
    {
        var log = (IEvaluationLog)await OpenAsync();
        EvaluationRecord Probe(string route, long length, bool hit, string tenant = "acme") => new(Guid.CreateVersion7(), tenant, Now, "run-1", "passkey", route, "m", length, 0.5, hit);

        await log.RecordEvaluationsAsync([Probe("rag", 1_000, true), Probe("rag", 1_000, false), Probe("rag", 1_000, true), Probe("long_context", 1_000, true), Probe("rag", 4_000, false), Probe("rag", 1_000, false, tenant: "globex")]);

        var cells = await log.MeasuredRecallAsync("acme", Now.AddDays(-1));
        Assert.Equal(
            [("long_context", 1_000L, 1L, 1L), ("rag", 1_000L, 3L, 2L), ("rag", 4_000L, 1L, 0L)],
            cells.Select(c => (c.Route, c.LengthTokens, c.Probes, c.Hits)));
        Assert.Empty(await log.MeasuredRecallAsync("acme", Now.AddDays(1)));
    }

    [Fact]
    public async Task Reserve_NegativeAmount_IsRejected()
    {
        var ledger = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ledger.ReserveAsync(new("acme", -1m, BudgetLimits.None, Now, Ttl)));
    }

    [Fact]
    public async Task ThousandConcurrentReservations_OnOneBudget_NeverExceedIt()
    {
        // Two ledger handles on one store stand for two gateway processes sharing it.
        var ledgers = new[] { await OpenAsync(), await OpenAsync() };
        var limits = new BudgetLimits(MonthlyUsd: 10m, DailyUsd: null);
        const decimal amount = 0.037m; // 10 / 0.037 = 270.27 → exactly 270 fit

        var results = await Task.WhenAll(Enumerable.Range(0, 1_000).Select(i => Task.Run(() =>
            ledgers[i % 2].ReserveAsync(new("acme", amount, limits, Now, Ttl)))));

        var granted = results.Where(r => r.Granted).ToList();
        Assert.Equal(270, granted.Count);
        await Task.WhenAll(granted.Select((r, i) => Task.Run(() => ledgers[i % 2].CommitAsync(r.ReservationId!.Value, amount))));
        var usage = await ledgers[0].GetUsageAsync("acme", Now);
        Assert.Equal(270 * amount, usage.MonthUsd);
        Assert.True(usage.MonthUsd <= limits.MonthlyUsd);
    }

    [Fact]
    public async Task ConcurrentMixedAmounts_WithCommitsAndReleases_StayWithinBudget()
    {
        var ledger = await OpenAsync();
        var limits = new BudgetLimits(MonthlyUsd: 5m, DailyUsd: 2m);
        var random = new Random(7);
        var amounts = Enumerable.Range(0, 1_000).Select(_ => Math.Round((decimal)random.NextDouble() * 0.05m, 6)).ToArray();

        var results = await Task.WhenAll(amounts.Select((amount, i) => Task.Run(async () =>
        {
            var result = await ledger.ReserveAsync(new("acme", amount, limits, Now, Ttl));
            if (result.Granted)
            {
                // Real usage never exceeds the reservation; some requests fail and release.
                _ = i % 3 == 0
                    ? await ledger.ReleaseAsync(result.ReservationId!.Value)
                    : await ledger.CommitAsync(result.ReservationId!.Value, amount * 0.8m);
            }

            return (amount, result);
        })));

        var usage = await ledger.GetUsageAsync("acme", Now);
        Assert.True(usage.DayUsd <= 2m, $"day spend {usage.DayUsd}");
        Assert.True(usage.MonthUsd <= 5m);
        // Every refusal was right when it was made: the amount did not fit what was left that moment.
        Assert.All(results.Where(r => !r.result.Granted), r => Assert.True(r.amount > r.result.DailyRemainingUsd, $"{r.amount} refused with {r.result.DailyRemainingUsd} left"));
        Assert.All(results.Where(r => r.result.Granted), r => Assert.True(r.result.DailyRemainingUsd >= 0));
        Assert.True(results.Count(r => r.result.Granted) >= 40, "the daily budget of $2 holds at least 40 reservations of at most $0.05");
    }

    private static async Task Commit(ISpendLedger ledger, string tenant, decimal amount, BudgetLimits limits, DateTimeOffset at)
    {
        var reservation = await ledger.ReserveAsync(new(tenant, amount, limits, at, Ttl));
        Assert.True(await ledger.CommitAsync(reservation.ReservationId!.Value, amount));
    }
}
