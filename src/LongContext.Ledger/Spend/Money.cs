namespace LongContext.Ledger.Spend;

/// <summary>
/// Amounts are stored as whole nanodollars (1e-9 USD) in 64-bit integers: sums are exact, and a
/// single token at $0.10 per million (1e-7 USD) is still 100 units.
/// </summary>
internal static class Money
{
    private const decimal UnitsPerDollar = 1_000_000_000m;

    public static long ToUnits(decimal usd) => usd < 0
        ? throw new ArgumentOutOfRangeException(nameof(usd), usd, "Amounts must not be negative.")
        : (long)decimal.Round(usd * UnitsPerDollar, MidpointRounding.AwayFromZero);

    public static long? ToUnits(decimal? usd) => usd is { } value ? ToUnits(value) : null;

    public static decimal ToUsd(long units) => units / UnitsPerDollar;
}

/// <summary>The UTC calendar periods budgets apply to.</summary>
internal static class BudgetPeriods
{
    public static DateTimeOffset MonthStart(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }

    public static DateTimeOffset DayStart(DateTimeOffset now) => new(now.UtcDateTime.Date, TimeSpan.Zero);
}
