namespace LongContext.Routing.Decision;

public enum RouteKind
{
    Rag,
    LongContext,
    Hybrid,
}

/// <summary>The wire names of routes (headers, JSON, config).</summary>
public static class RouteNames
{
    public const string Rag = "rag";
    public const string LongContext = "long_context";
    public const string Hybrid = "hybrid";

    public static string Of(RouteKind route) => route switch
    {
        RouteKind.Rag => Rag,
        RouteKind.LongContext => LongContext,
        RouteKind.Hybrid => Hybrid,
        _ => throw new ArgumentOutOfRangeException(nameof(route), route, null),
    };

    public static bool TryParse(string? name, out RouteKind route)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case Rag: route = RouteKind.Rag; return true;
            case LongContext or "long-context" or "lc": route = RouteKind.LongContext; return true;
            case Hybrid: route = RouteKind.Hybrid; return true;
            default: route = default; return false;
        }
    }
}
