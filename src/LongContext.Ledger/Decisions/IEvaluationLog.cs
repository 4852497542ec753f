namespace LongContext.Ledger.Decisions;

/// <summary>Measured recall: the probes of evaluation runs, scored, kept beside the decision log so dashboards and metrics show measured next to expected recall.</summary>
public interface IEvaluationLog
{
    Task RecordEvaluationsAsync(IReadOnlyList<EvaluationRecord> records, CancellationToken cancellationToken = default);

    /// <summary>Hits and probes per route, model and context length (probes from <paramref name="since"/> on) for the tenant.</summary>
    Task<IReadOnlyList<MeasuredRecall>> MeasuredRecallAsync(string tenantId, DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>One scored probe of an evaluation run.</summary>
public sealed record EvaluationRecord(Guid Id, string TenantId, DateTimeOffset CreatedAt, string Run, string Kind, string Route, string? Model, long LengthTokens, double Depth, bool Hit);

public sealed record MeasuredRecall(string Route, string? Model, long LengthTokens, long Probes, long Hits)
{
    public double Recall => Probes == 0 ? 0 : Hits / (double)Probes;
}
