using System.Collections.Concurrent;
using LongContext.Ledger.Spend;

namespace LongContext.Gateway.Accounting;

/// <summary>
/// Each tenant's spend as the ledger reported it with this process's latest reservation (exact at
/// that moment, open reservations included), kept for <see cref="MaxAge"/> so that routing need
/// not read the ledger again for every request. Routing uses a hint only where it cannot change
/// the decision — when every candidate's worst case fits what the hint leaves — and reads the
/// ledger otherwise; the reservation itself is always checked atomically in the ledger.
/// </summary>
internal sealed class BudgetHints(TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, (BudgetUsage Usage, DateTimeOffset At)> _latest = new(StringComparer.Ordinal);

    public void Remember(string tenant, BudgetUsage usage) => _latest[tenant] = (usage, time.GetUtcNow());

    /// <summary>The tenant's hint if it is recent and from the same UTC day (so the same day and month).</summary>
    public BudgetUsage? Recent(string tenant)
    {
        var now = time.GetUtcNow();
        return _latest.TryGetValue(tenant, out var hint) && now - hint.At <= MaxAge && now.UtcDateTime.Date == hint.At.UtcDateTime.Date
            ? hint.Usage
            : null;
    }

    /// <summary>Forgets a tenant's hint (its budget changed in a way the hint does not know).</summary>
    public void Forget(string tenant) => _latest.TryRemove(tenant, out _);
}
