namespace LongContext.Ledger.Spend;

/// <summary>
/// The arithmetic of one reservation, shared by every store: what the periods have used, what is
/// left under each limit, whether an amount fits. Amounts are in <see cref="Money"/> units.
/// </summary>
internal readonly record struct BudgetCheck(long MonthUsed, long DayUsed, long? MonthlyLeft, long? DailyLeft)
{
    public static BudgetCheck Of(long monthUsed, long dayUsed, BudgetLimits limits) => new(
        monthUsed,
        dayUsed,
        limits.MonthlyUsd is { } month ? Money.ToUnits(month) - monthUsed : null,
        limits.DailyUsd is { } day ? Money.ToUnits(day) - dayUsed : null);

    public bool Fits(long amount) => (MonthlyLeft is null || amount <= MonthlyLeft) && (DailyLeft is null || amount <= DailyLeft);

    /// <summary>The check after <paramref name="amount"/> was reserved.</summary>
    public BudgetCheck Plus(long amount) => new(MonthUsed + amount, DayUsed + amount, MonthlyLeft - amount, DailyLeft - amount);

    public ReservationResult ToResult(Guid? reservationId) => new(
        reservationId,
        new BudgetUsage(Money.ToUsd(MonthUsed), Money.ToUsd(DayUsed)),
        MonthlyLeft is { } m ? Money.ToUsd(m) : null,
        DailyLeft is { } d ? Money.ToUsd(d) : null);
}
