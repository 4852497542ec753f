using System.Data.Common;
using LongContext.Ledger.Spend;

namespace LongContext.Ledger.Decisions;

/// <summary>
/// Reads a decision row in the column order both stores select. The columns whose storage differs
/// between SQLite and PostgreSQL (ids, time, the forced flag) are decoded by the store and passed in.
/// </summary>
internal static class DecisionRows
{
    public const string Columns = """
        id, tenant, created_at, outcome, status, route, candidate, model, attention, forced,
        estimated_cost, reserved, actual_cost, expected_recall, estimated_prompt, prompt_tokens, cached_tokens,
        completion_tokens, reservation_id, counterfactuals, explanation, detail,
        corpus, escalated, rag_step_cost, long_context_step_cost
        """;

    /// <summary>Columns added after the first schema, with their SQLite and PostgreSQL types: added on open when missing.</summary>
    public static readonly (string Name, string Sqlite, string Postgres)[] Added =
    [
        ("corpus", "TEXT", "text"),
        ("escalated", "INTEGER", "boolean"),
        ("rag_step_cost", "INTEGER", "bigint"),
        ("long_context_step_cost", "INTEGER", "bigint"),
    ];

    public static DecisionRecord Read(DbDataReader reader, Guid id, DateTimeOffset createdAt, bool forced, Guid? reservationId, bool? escalated) => new()
    {
        Id = id,
        TenantId = reader.GetString(1),
        CreatedAt = createdAt,
        Outcome = reader.GetString(3),
        Status = reader.GetString(4),
        Route = Text(reader, 5),
        CandidateId = Text(reader, 6),
        Model = Text(reader, 7),
        Attention = Text(reader, 8),
        ForcedRoute = forced,
        EstimatedCostUsd = Usd(reader, 10),
        ReservedUsd = Usd(reader, 11),
        ActualCostUsd = Usd(reader, 12),
        ExpectedRecall = reader.IsDBNull(13) ? null : reader.GetDouble(13),
        EstimatedPromptTokens = reader.GetInt64(14),
        PromptTokens = Count(reader, 15),
        CachedPromptTokens = Count(reader, 16),
        CompletionTokens = Count(reader, 17),
        ReservationId = reservationId,
        CounterfactualCostsUsd = CounterfactualJson.Read(reader.GetString(19)),
        Explanation = reader.GetString(20),
        DetailJson = reader.GetString(21),
        Corpus = Text(reader, 22),
        Escalated = escalated,
        RagStepCostUsd = Usd(reader, 24),
        LongContextStepCostUsd = Usd(reader, 25),
    };

    private static string? Text(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static decimal? Usd(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : Money.ToUsd(reader.GetInt64(column));

    private static long? Count(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetInt64(column);
}
