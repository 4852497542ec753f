using LongContext.Ledger.Decisions;
using LongContext.Ledger.Spend;
using Npgsql;

namespace LongContext.Ledger.Postgres;

/// <summary>
/// The shared ledger for several gateway instances. A reservation takes a transaction-scoped
/// advisory lock on the tenant, so check-then-insert is atomic across every gateway process;
/// under READ COMMITTED the budget query after the lock sees every reservation committed before it.
/// </summary>
public sealed class PostgresSpendLedger : ISpendLedger, IDecisionLog, IEvaluationLog, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    private PostgresSpendLedger(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    public static async Task<PostgresSpendLedger> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var ledger = new PostgresSpendLedger(NpgsqlDataSource.Create(connectionString));
        await using var command = ledger._dataSource.CreateCommand("""
            CREATE TABLE IF NOT EXISTS reservations (
                id          uuid        PRIMARY KEY,
                tenant      text        NOT NULL,
                amount      bigint      NOT NULL,
                actual      bigint,
                state       text        NOT NULL CHECK (state IN ('open', 'committed', 'released')),
                created_at  timestamptz NOT NULL,
                expires_at  timestamptz NOT NULL,
                settled_at  timestamptz
            );
            CREATE INDEX IF NOT EXISTS ix_reservations_tenant_created ON reservations (tenant, created_at);
            CREATE TABLE IF NOT EXISTS decisions (
                id                 uuid             PRIMARY KEY,
                tenant             text             NOT NULL,
                created_at         timestamptz      NOT NULL,
                outcome            text             NOT NULL,
                status             text             NOT NULL,
                route              text,
                candidate          text,
                model              text,
                attention          text,
                forced             boolean          NOT NULL,
                estimated_cost     bigint,
                reserved           bigint,
                actual_cost        bigint,
                expected_recall    double precision,
                estimated_prompt   bigint           NOT NULL,
                prompt_tokens      bigint,
                cached_tokens      bigint,
                completion_tokens  bigint,
                reservation_id     uuid,
                counterfactuals    jsonb            NOT NULL,
                explanation        text             NOT NULL,
                detail             jsonb            NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_decisions_tenant_created ON decisions (tenant, created_at);
            CREATE TABLE IF NOT EXISTS evaluations (
                id          uuid             PRIMARY KEY,
                tenant      text             NOT NULL,
                created_at  timestamptz      NOT NULL,
                run         text             NOT NULL,
                kind        text             NOT NULL,
                route       text             NOT NULL,
                model       text,
                length      bigint           NOT NULL,
                depth       double precision NOT NULL,
                hit         boolean          NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_evaluations_tenant_created ON evaluations (tenant, created_at);
            """);
        await command.ExecuteNonQueryAsync(cancellationToken);
        // Ledgers written before a column existed get it (empty for their old rows).
        foreach (var (name, _, type) in DecisionRows.Added)
        {
            await using var alter = ledger._dataSource.CreateCommand($"ALTER TABLE decisions ADD COLUMN IF NOT EXISTS {name} {type}");
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }

        return ledger;
    }

    public async Task<ReservationResult> ReserveAsync(ReservationRequest request, CancellationToken cancellationToken = default)
    {
        var amount = Money.ToUnits(request.AmountUsd);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue(request.TenantId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        var (monthUsed, dayUsed) = await UsageAsync(connection, transaction, request.TenantId, request.Now, cancellationToken);
        var check = BudgetCheck.Of(monthUsed, dayUsed, request.Limits);
        Guid? id = null;
        if (check.Fits(amount))
        {
            id = Guid.CreateVersion7(request.Now);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO reservations (id, tenant, amount, state, created_at, expires_at) VALUES ($1, $2, $3, 'open', $4, $5)", connection, transaction);
            insert.Parameters.AddWithValue(id.Value);
            insert.Parameters.AddWithValue(request.TenantId);
            insert.Parameters.AddWithValue(amount);
            insert.Parameters.AddWithValue(request.Now.ToUniversalTime());
            insert.Parameters.AddWithValue((request.Now + request.TimeToLive).ToUniversalTime());
            await insert.ExecuteNonQueryAsync(cancellationToken);
            check = check.Plus(amount);
        }

        await transaction.CommitAsync(cancellationToken);
        return check.ToResult(id);
    }

    public Task<bool> CommitAsync(Guid reservationId, decimal actualUsd, CancellationToken cancellationToken = default) =>
        SettleAsync(reservationId, "committed", Money.ToUnits(actualUsd), cancellationToken);

    public Task<bool> ReleaseAsync(Guid reservationId, CancellationToken cancellationToken = default) =>
        SettleAsync(reservationId, "released", actual: null, cancellationToken);

    public async Task<BudgetUsage> GetUsageAsync(string tenantId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var (month, day) = await UsageAsync(connection, null, tenantId, now, cancellationToken);
        return new BudgetUsage(Money.ToUsd(month), Money.ToUsd(day));
    }

    public async Task RecordAsync(DecisionRecord record, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await InsertDecisionAsync(connection, null, record, cancellationToken);
    }

    public async Task<bool> SettleAndRecordAsync(Guid reservationId, decimal? actualUsd, DecisionRecord record, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await SettleAsync(connection, transaction, reservationId, actualUsd is null ? "released" : "committed", Money.ToUnits(actualUsd), cancellationToken))
        {
            return false;
        }

        await InsertDecisionAsync(connection, transaction, record, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static async Task InsertDecisionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, DecisionRecord record, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            INSERT INTO decisions ({DecisionRows.Columns})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::jsonb, $21, $22::jsonb, $23, $24, $25, $26)
            """, connection, transaction);
        var p = command.Parameters;
        p.AddWithValue(record.Id);
        p.AddWithValue(record.TenantId);
        p.AddWithValue(record.CreatedAt.ToUniversalTime());
        p.AddWithValue(record.Outcome);
        p.AddWithValue(record.Status);
        p.Add(Text(record.Route));
        p.Add(Text(record.CandidateId));
        p.Add(Text(record.Model));
        p.Add(Text(record.Attention));
        p.AddWithValue(record.ForcedRoute);
        p.Add(Bigint(Money.ToUnits(record.EstimatedCostUsd)));
        p.Add(Bigint(Money.ToUnits(record.ReservedUsd)));
        p.Add(Bigint(Money.ToUnits(record.ActualCostUsd)));
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Double, Value = (object?)record.ExpectedRecall ?? DBNull.Value });
        p.AddWithValue(record.EstimatedPromptTokens);
        p.Add(Bigint(record.PromptTokens));
        p.Add(Bigint(record.CachedPromptTokens));
        p.Add(Bigint(record.CompletionTokens));
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid, Value = (object?)record.ReservationId ?? DBNull.Value });
        p.AddWithValue(CounterfactualJson.Write(record.CounterfactualCostsUsd));
        p.AddWithValue(record.Explanation);
        p.AddWithValue(record.DetailJson);
        p.Add(Text(record.Corpus));
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Boolean, Value = (object?)record.Escalated ?? DBNull.Value });
        p.Add(Bigint(Money.ToUnits(record.RagStepCostUsd)));
        p.Add(Bigint(Money.ToUnits(record.LongContextStepCostUsd)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<DecisionRecord?> GetAsync(string tenantId, Guid decisionId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryDecisionsAsync("tenant = $1 AND id = $2", tenantId, decisionId, 1, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public Task<IReadOnlyList<DecisionRecord>> ListAsync(string tenantId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default) =>
        QueryDecisionsAsync("tenant = $1 AND created_at >= $2", tenantId, since.ToUniversalTime(), limit, cancellationToken);

    public async Task<EscalationCounts> CountEscalationsAsync(string tenantId, string corpus, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT count(*), count(*) FILTER (WHERE escalated) FROM decisions
            WHERE tenant = $1 AND corpus = $2 AND created_at >= $3 AND escalated IS NOT NULL
            """);
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(corpus);
        command.Parameters.AddWithValue(since.ToUniversalTime());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new EscalationCounts(reader.GetInt64(0), reader.GetInt64(1));
    }

    public async Task RecordEvaluationsAsync(IReadOnlyList<EvaluationRecord> records, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var r in records)
        {
            await using var command = new NpgsqlCommand("INSERT INTO evaluations (id, tenant, created_at, run, kind, route, model, length, depth, hit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", connection, transaction);
            command.Parameters.AddWithValue(r.Id);
            command.Parameters.AddWithValue(r.TenantId);
            command.Parameters.AddWithValue(r.CreatedAt.ToUniversalTime());
            command.Parameters.AddWithValue(r.Run);
            command.Parameters.AddWithValue(r.Kind);
            command.Parameters.AddWithValue(r.Route);
            command.Parameters.Add(Text(r.Model));
            command.Parameters.AddWithValue(r.LengthTokens);
            command.Parameters.AddWithValue(r.Depth);
            command.Parameters.AddWithValue(r.Hit);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<MeasuredRecall>> MeasuredRecallAsync(string tenantId, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT route, model, length, count(*), count(*) FILTER (WHERE hit) FROM evaluations WHERE tenant = $1 AND created_at >= $2 GROUP BY route, model, length ORDER BY route, model, length");
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(since.ToUniversalTime());
        var rows = new List<MeasuredRecall>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new MeasuredRecall(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return rows;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<IReadOnlyList<DecisionRecord>> QueryDecisionsAsync(string where, string tenantId, object second, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"""
            SELECT {DecisionRows.Columns}
            FROM decisions WHERE {where} ORDER BY created_at DESC, id DESC LIMIT $3
            """);
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(second);
        command.Parameters.AddWithValue(limit);
        var rows = new List<DecisionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(DecisionRows.Read(
                reader,
                reader.GetGuid(0),
                reader.GetFieldValue<DateTimeOffset>(2),
                reader.GetBoolean(9),
                reader.IsDBNull(18) ? null : reader.GetGuid(18),
                reader.IsDBNull(23) ? null : reader.GetBoolean(23)));
        }

        return rows;
    }

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Bigint(long? value) => new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint, Value = (object?)value ?? DBNull.Value };

    private async Task<bool> SettleAsync(Guid reservationId, string state, long? actual, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await SettleAsync(connection, null, reservationId, state, actual, cancellationToken);
    }

    private static async Task<bool> SettleAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid reservationId, string state, long? actual, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("UPDATE reservations SET state = $1, actual = $2, settled_at = now() WHERE id = $3 AND state = 'open'", connection, transaction);
        command.Parameters.AddWithValue(state);
        command.Parameters.Add(new NpgsqlParameter<long?> { TypedValue = actual, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.AddWithValue(reservationId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static async Task<(long Month, long Day)> UsageAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenant, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT
                COALESCE(SUM(counted), 0)::bigint,
                COALESCE(SUM(counted) FILTER (WHERE created_at >= $3), 0)::bigint
            FROM (
                SELECT created_at,
                       CASE WHEN state = 'committed' THEN actual
                            WHEN state = 'open' AND expires_at > $4 THEN amount
                            ELSE 0 END AS counted
                FROM reservations
                WHERE tenant = $1 AND created_at >= $2
            ) AS spend
            """, connection, transaction);
        command.Parameters.AddWithValue(tenant);
        command.Parameters.AddWithValue(BudgetPeriods.MonthStart(now));
        command.Parameters.AddWithValue(BudgetPeriods.DayStart(now));
        command.Parameters.AddWithValue(now.ToUniversalTime());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
