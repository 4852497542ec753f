namespace LongContext.Ledger.Spend;

/// <summary>
/// Budget accounting that never overspends: a request reserves what it may cost before it is
/// forwarded, commits what it really cost when the upstream reports usage, or releases the
/// reservation when it fails. Open reservations count against the budget until they are settled
/// or expire (a crashed gateway's reservations expire on their own).
/// </summary>
public interface ISpendLedger
{
    /// <summary>Reserves atomically: granted only if the amount fits what is left of every limit.</summary>
    Task<ReservationResult> ReserveAsync(ReservationRequest request, CancellationToken cancellationToken = default);

    /// <summary>Records the real cost. False when the reservation is unknown or already settled (a repeat is harmless).</summary>
    Task<bool> CommitAsync(Guid reservationId, decimal actualUsd, CancellationToken cancellationToken = default);

    /// <summary>Returns the reserved amount to the budget. False when unknown or already settled.</summary>
    Task<bool> ReleaseAsync(Guid reservationId, CancellationToken cancellationToken = default);

    /// <summary>Committed spend plus open reservations in the current day and month.</summary>
    Task<BudgetUsage> GetUsageAsync(string tenantId, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>Budget limits in US dollars; null means no limit for that period.</summary>
public sealed record BudgetLimits(decimal? MonthlyUsd, decimal? DailyUsd)
{
    public static BudgetLimits None { get; } = new(null, null);
}

public sealed record ReservationRequest(string TenantId, decimal AmountUsd, BudgetLimits Limits, DateTimeOffset Now, TimeSpan TimeToLive);

/// <summary>Spend counted against the budget: committed costs plus open reservations, per UTC period.</summary>
public sealed record BudgetUsage(decimal MonthUsd, decimal DayUsd)
{
    public decimal? MonthlyRemaining(BudgetLimits limits) => limits.MonthlyUsd - MonthUsd;

    public decimal? DailyRemaining(BudgetLimits limits) => limits.DailyUsd - DayUsd;
}

public sealed record ReservationResult(Guid? ReservationId, BudgetUsage Usage, decimal? MonthlyRemainingUsd, decimal? DailyRemainingUsd)
{
    public bool Granted => ReservationId is not null;
}
