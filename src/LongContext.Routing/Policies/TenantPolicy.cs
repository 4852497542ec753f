using LongContext.Routing.Decision;

namespace LongContext.Routing.Policies;

/// <summary>A tenant's cost policy: budgets, caps, the recall it needs and how to trade cost for recall.</summary>
public sealed record TenantPolicy
{
    public decimal? MonthlyBudgetUsd { get; init; }

    public decimal? DailyBudgetUsd { get; init; }

    public decimal? MaxCostPerRequestUsd { get; init; }

    /// <summary>The lowest expected recall the tenant accepts when a candidate can meet it.</summary>
    public double RecallFloor { get; init; } = 0.8;

    /// <summary>Name of the objective (<see cref="RouteStrategies"/>).</summary>
    public string Objective { get; init; } = RouteStrategies.MinCostAtRecall;

    /// <summary>Routes the tenant may take; empty means all.</summary>
    public IReadOnlyList<RouteKind> AllowedRoutes { get; init; } = [];

    /// <summary>Models routing may choose for this tenant; empty means every model the tenant may call.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    /// <summary>Whether the client may force a route with the header or the request extension.</summary>
    public bool AllowForcedRoute { get; init; } = true;

    public bool AllowsRoute(RouteKind route) => AllowedRoutes.Count == 0 || AllowedRoutes.Contains(route);

    public bool AllowsModel(string model) => AllowedModels.Count == 0 || AllowedModels.Contains(model, StringComparer.Ordinal);
}

/// <summary>What is left of the tenant's budgets when the request arrives (open reservations already subtracted).</summary>
public sealed record BudgetState(decimal? MonthlyRemainingUsd, decimal? DailyRemainingUsd)
{
    public static BudgetState Unlimited { get; } = new(null, null);

    public decimal? Remaining => (MonthlyRemainingUsd, DailyRemainingUsd) switch
    {
        (null, null) => null,
        ({ } m, null) => m,
        (null, { } d) => d,
        ({ } m, { } d) => Math.Min(m, d),
    };
}
