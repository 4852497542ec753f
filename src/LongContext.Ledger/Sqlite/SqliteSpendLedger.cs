using LongContext.Ledger.Decisions;
using LongContext.Ledger.Spend;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// The embedded ledger: one SQLite file. Writes go through a group-commit queue: each batch is one
/// <c>BEGIN IMMEDIATE</c> transaction, so SQLite's single writer lock makes check-then-insert
/// atomic across threads and processes sharing the file. Spend is kept as running totals per
/// tenant, UTC month and UTC day (committed and held), updated in the same transaction as the
/// reservation they count, so checking a budget costs the same with ten rows or ten million;
/// an open reservation past its expiry stops counting (found through a partial index of open
/// reservations) without being rewritten, and a late commit still counts. The decision log lives
/// in the same file.
/// </summary>
public sealed class SqliteSpendLedger : ISpendLedger, IDecisionLog, IEvaluationLog, IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly SqliteWriteQueue _writes;
    private readonly SqliteSessionPool _reads;

    private SqliteSpendLedger(string connectionString, string path, SqliteDurability durability)
    {
        _connectionString = connectionString;
        _writes = new SqliteWriteQueue(connectionString, path, durability);
        _reads = new SqliteSessionPool(connectionString);
    }

    /// <summary>The write queue (for tests).</summary>
    internal SqliteWriteQueue Writes => _writes;

    public async ValueTask DisposeAsync()
    {
        await _writes.DisposeAsync();
        _reads.Dispose();
    }

    /// <summary>Opens (creating or migrating) the ledger at <paramref name="path"/>; <paramref name="durability"/> says when a write counts as done.</summary>
    public static async Task<SqliteSpendLedger> OpenAsync(string path, SqliteDurability durability = SqliteDurability.Full, CancellationToken cancellationToken = default)
    {
        path = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 60,
        }.ToString();
        var ledger = new SqliteSpendLedger(connectionString, path, durability);
        await using var connection = await ledger.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS reservations (
                id          TEXT    PRIMARY KEY,
                tenant      TEXT    NOT NULL,
                amount      INTEGER NOT NULL,
                actual      INTEGER,
                state       TEXT    NOT NULL CHECK (state IN ('open', 'committed', 'released')),
                created_at  INTEGER NOT NULL,
                expires_at  INTEGER NOT NULL,
                settled_at  INTEGER
            );
            DROP INDEX IF EXISTS ix_reservations_tenant_created;
            CREATE TABLE IF NOT EXISTS decisions (
                id                 TEXT    PRIMARY KEY,
                tenant             TEXT    NOT NULL,
                created_at         INTEGER NOT NULL,
                outcome            TEXT    NOT NULL,
                status             TEXT    NOT NULL,
                route              TEXT,
                candidate          TEXT,
                model              TEXT,
                attention          TEXT,
                forced             INTEGER NOT NULL,
                estimated_cost     INTEGER,
                reserved           INTEGER,
                actual_cost        INTEGER,
                expected_recall    REAL,
                estimated_prompt   INTEGER NOT NULL,
                prompt_tokens      INTEGER,
                cached_tokens      INTEGER,
                completion_tokens  INTEGER,
                reservation_id     TEXT,
                counterfactuals    TEXT    NOT NULL,
                explanation        TEXT    NOT NULL,
                detail             TEXT    NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_decisions_tenant_created ON decisions (tenant, created_at);
            CREATE TABLE IF NOT EXISTS evaluations (
                id          TEXT    PRIMARY KEY,
                tenant      TEXT    NOT NULL,
                created_at  INTEGER NOT NULL,
                run         TEXT    NOT NULL,
                kind        TEXT    NOT NULL,
                route       TEXT    NOT NULL,
                model       TEXT,
                length      INTEGER NOT NULL,
                depth       REAL    NOT NULL,
                hit         INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_evaluations_tenant_created ON evaluations (tenant, created_at);
            CREATE INDEX IF NOT EXISTS ix_reservations_open ON reservations (tenant, expires_at) WHERE state = 'open';
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        await AddMissingColumnsAsync(connection, cancellationToken);
        await CreateTotalsAsync(connection, cancellationToken);
        return ledger;
    }

    /// <summary>
    /// The running totals; a ledger from before they existed gets them built from its reservations,
    /// in one transaction with creating the table, so a second process opening the same file
    /// either sees both or builds them itself.
    /// </summary>
    private static async Task CreateTotalsAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var exists = connection.CreateCommand();
        exists.Transaction = transaction;
        exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'spend_totals'";
        if ((long)(await exists.ExecuteScalarAsync(cancellationToken))! == 0)
        {
            await using var create = connection.CreateCommand();
            create.Transaction = transaction;
            create.CommandText = """
                CREATE TABLE spend_totals (
                    tenant     TEXT    NOT NULL,
                    period     TEXT    NOT NULL CHECK (period IN ('month', 'day')),
                    start      INTEGER NOT NULL,
                    committed  INTEGER NOT NULL,
                    held       INTEGER NOT NULL,
                    PRIMARY KEY (tenant, period, start)
                ) WITHOUT ROWID;
                INSERT INTO spend_totals (tenant, period, start, committed, held)
                SELECT tenant, period, start,
                       coalesce(sum(CASE WHEN state = 'committed' THEN actual END), 0),
                       coalesce(sum(CASE WHEN state = 'open' THEN amount END), 0)
                FROM (
                    SELECT tenant, state, amount, actual, 'month' AS period,
                           CAST(strftime('%s', created_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 AS start
                    FROM reservations
                    UNION ALL
                    SELECT tenant, state, amount, actual, 'day',
                           CAST(strftime('%s', created_at / 1000, 'unixepoch', 'start of day') AS INTEGER) * 1000
                    FROM reservations
                )
                GROUP BY tenant, period, start;
                """;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        // The totals follow the reservations inside SQLite: a reservation adds its amount to the
        // held total of its month and day; settling it moves that amount out of held and its
        // actual (none for a release) into committed.
        await using var triggers = connection.CreateCommand();
        triggers.Transaction = transaction;
        triggers.CommandText = """
            CREATE TRIGGER IF NOT EXISTS reservations_hold AFTER INSERT ON reservations
            BEGIN
                INSERT INTO spend_totals (tenant, period, start, committed, held) VALUES
                    (new.tenant, 'month', CAST(strftime('%s', new.created_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000, 0, new.amount),
                    (new.tenant, 'day', CAST(strftime('%s', new.created_at / 1000, 'unixepoch', 'start of day') AS INTEGER) * 1000, 0, new.amount)
                ON CONFLICT (tenant, period, start) DO UPDATE SET held = held + excluded.held;
            END;
            CREATE TRIGGER IF NOT EXISTS reservations_settle AFTER UPDATE OF state ON reservations
            WHEN old.state = 'open' AND new.state <> 'open'
            BEGIN
                UPDATE spend_totals
                SET held = held - new.amount, committed = committed + coalesce(new.actual, 0)
                WHERE tenant = new.tenant AND (
                    (period = 'month' AND start = CAST(strftime('%s', new.created_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000) OR
                    (period = 'day' AND start = CAST(strftime('%s', new.created_at / 1000, 'unixepoch', 'start of day') AS INTEGER) * 1000));
            END;
            """;
        await triggers.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task<ReservationResult> ReserveAsync(ReservationRequest request, CancellationToken cancellationToken = default)
    {
        var amount = Money.ToUnits(request.AmountUsd);

        // A hold is answered once committed (every process sees it, atomically with the check),
        // not once on disk: a machine crash ends the request that held it, so a durable hold would
        // only keep budget locked until its expiry. Its settlement waits for the disk, and that
        // flush covers the hold too.
        return _writes.WriteAsync(session =>
        {
            var (monthUsed, dayUsed) = Usage(session, request.TenantId, request.Now);
            var check = BudgetCheck.Of(monthUsed, dayUsed, request.Limits);
            if (!check.Fits(amount))
            {
                return check.ToResult(null);
            }

            var id = Guid.CreateVersion7(request.Now);
            session.Statement("INSERT INTO reservations (id, tenant, amount, state, created_at, expires_at) VALUES ($id, $tenant, $amount, 'open', $created, $expires)")
                .Bind("$id", id)
                .Bind("$tenant", request.TenantId)
                .Bind("$amount", amount)
                .Bind("$created", request.Now.ToUnixTimeMilliseconds())
                .Bind("$expires", (request.Now + request.TimeToLive).ToUnixTimeMilliseconds())
                .Execute();
            return check.Plus(amount).ToResult(id);
        }, waitForDisk: false);
    }

    public Task<bool> CommitAsync(Guid reservationId, decimal actualUsd, CancellationToken cancellationToken = default) =>
        SettleAsync(reservationId, "committed", Money.ToUnits(actualUsd), cancellationToken);

    public Task<bool> ReleaseAsync(Guid reservationId, CancellationToken cancellationToken = default) =>
        SettleAsync(reservationId, "released", actual: null, cancellationToken);

    public Task<BudgetUsage> GetUsageAsync(string tenantId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (month, day) = _reads.Read(session => Usage(session, tenantId, now));
        return Task.FromResult(new BudgetUsage(Money.ToUsd(month), Money.ToUsd(day)));
    }

    public Task RecordAsync(DecisionRecord record, CancellationToken cancellationToken = default) =>
        _writes.WriteAsync(session => InsertDecision(session, record));

    private static readonly string InsertDecisionSql = $"""
            INSERT INTO decisions ({DecisionRows.Columns})
            VALUES ($id, $tenant, $created, $outcome, $status, $route, $candidate, $model, $attention, $forced,
                $estimated, $reserved, $actual, $recall, $estimated_prompt, $prompt, $cached, $completion, $reservation,
                $counterfactuals, $explanation, $detail, $corpus, $escalated, $rag_step, $lc_step)
            """;

    private static bool InsertDecision(SqliteSession session, DecisionRecord record)
    {
        session.Statement(InsertDecisionSql)
            .Bind("$id", record.Id)
            .Bind("$tenant", record.TenantId)
            .Bind("$created", record.CreatedAt.ToUnixTimeMilliseconds())
            .Bind("$outcome", record.Outcome)
            .Bind("$status", record.Status)
            .Bind("$route", record.Route)
            .Bind("$candidate", record.CandidateId)
            .Bind("$model", record.Model)
            .Bind("$attention", record.Attention)
            .Bind("$forced", record.ForcedRoute)
            .Bind("$estimated", Money.ToUnits(record.EstimatedCostUsd))
            .Bind("$reserved", Money.ToUnits(record.ReservedUsd))
            .Bind("$actual", Money.ToUnits(record.ActualCostUsd))
            .Bind("$recall", record.ExpectedRecall)
            .Bind("$estimated_prompt", record.EstimatedPromptTokens)
            .Bind("$prompt", record.PromptTokens)
            .Bind("$cached", record.CachedPromptTokens)
            .Bind("$completion", record.CompletionTokens)
            .Bind("$reservation", record.ReservationId)
            .Bind("$counterfactuals", CounterfactualJson.Write(record.CounterfactualCostsUsd))
            .Bind("$explanation", record.Explanation)
            .Bind("$detail", record.DetailJson)
            .Bind("$corpus", record.Corpus)
            .Bind("$escalated", record.Escalated)
            .Bind("$rag_step", Money.ToUnits(record.RagStepCostUsd))
            .Bind("$lc_step", Money.ToUnits(record.LongContextStepCostUsd))
            .Execute();
        return true;
    }

    public async Task<DecisionRecord?> GetAsync(string tenantId, Guid decisionId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryDecisionsAsync("tenant = $tenant AND id = $id", tenantId, p => p.AddWithValue("$id", decisionId.ToString()), 1, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public Task<IReadOnlyList<DecisionRecord>> ListAsync(string tenantId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default) =>
        QueryDecisionsAsync("tenant = $tenant AND created_at >= $since", tenantId, p => p.AddWithValue("$since", since.ToUnixTimeMilliseconds()), limit, cancellationToken);

    private async Task<IReadOnlyList<DecisionRecord>> QueryDecisionsAsync(string where, string tenantId, Action<SqliteParameterCollection> bind, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {DecisionRows.Columns}
            FROM decisions WHERE {where} ORDER BY created_at DESC, id DESC LIMIT $limit
            """;
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$limit", limit);
        bind(command.Parameters);
        var rows = new List<DecisionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(DecisionRows.Read(
                reader,
                Guid.Parse(reader.GetString(0)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.GetInt64(9) != 0,
                reader.IsDBNull(18) ? null : Guid.Parse(reader.GetString(18)),
                reader.IsDBNull(23) ? null : reader.GetInt64(23) != 0));
        }

        return rows;
    }

    public async Task<EscalationCounts> CountEscalationsAsync(string tenantId, string corpus, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*), coalesce(sum(escalated), 0) FROM decisions
            WHERE tenant = $tenant AND corpus = $corpus AND created_at >= $since AND escalated IS NOT NULL
            """;
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$corpus", corpus);
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new EscalationCounts(reader.GetInt64(0), reader.GetInt64(1));
    }

    public Task RecordEvaluationsAsync(IReadOnlyList<EvaluationRecord> records, CancellationToken cancellationToken = default) =>
        _writes.WriteAsync(session =>
        {
            var insert = session.Statement("INSERT INTO evaluations (id, tenant, created_at, run, kind, route, model, length, depth, hit) VALUES ($id, $tenant, $created, $run, $kind, $route, $model, $length, $depth, $hit)");
            foreach (var r in records)
            {
                insert.Bind("$id", r.Id)
                    .Bind("$tenant", r.TenantId)
                    .Bind("$created", r.CreatedAt.ToUnixTimeMilliseconds())
                    .Bind("$run", r.Run)
                    .Bind("$kind", r.Kind)
                    .Bind("$route", r.Route)
                    .Bind("$model", r.Model)
                    .Bind("$length", r.LengthTokens)
                    .Bind("$depth", r.Depth)
                    .Bind("$hit", r.Hit)
                    .Execute();
            }

            return records.Count;
        });

    public async Task<IReadOnlyList<MeasuredRecall>> MeasuredRecallAsync(string tenantId, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT route, model, length, count(*), sum(hit) FROM evaluations WHERE tenant = $tenant AND created_at >= $since GROUP BY route, model, length ORDER BY route, model, length";
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        var rows = new List<MeasuredRecall>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new MeasuredRecall(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return rows;
    }

    /// <summary>Ledgers written before a column existed get it (empty for their old rows).</summary>
    private static async Task AddMissingColumnsAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var existing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var info = connection.CreateCommand())
        {
            info.CommandText = "SELECT name FROM pragma_table_info('decisions')";
            await using var reader = await info.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                existing.Add(reader.GetString(0));
            }
        }

        foreach (var (name, type, _) in DecisionRows.Added.Where(c => !existing.Contains(c.Name)))
        {
            await using var alter = connection.CreateCommand();
            alter.CommandText = $"ALTER TABLE decisions ADD COLUMN {name} {type}";
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// A commit also lands after a reservation expired: the money was spent, so it counts.
    /// Only an open reservation can be settled, once.
    /// </summary>
    public Task<bool> SettleAndRecordAsync(Guid reservationId, decimal? actualUsd, DecisionRecord record, CancellationToken cancellationToken = default) =>
        _writes.WriteAsync(session =>
            Settle(session, reservationId, actualUsd is null ? "released" : "committed", Money.ToUnits(actualUsd))
            && InsertDecision(session, record));

    private Task<bool> SettleAsync(Guid reservationId, string state, long? actual, CancellationToken cancellationToken) =>
        _writes.WriteAsync(session => Settle(session, reservationId, state, actual));

    private static bool Settle(SqliteSession session, Guid reservationId, string state, long? actual)
    {
        return session.Statement("UPDATE reservations SET state = $state, actual = $actual, settled_at = $now WHERE id = $id AND state = 'open'")
            .Bind("$state", state)
            .Bind("$actual", actual)
            .Bind("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
            .Bind("$id", reservationId)
            .Execute() == 1;
    }

    /// <summary>
    /// Committed actuals plus open, unexpired reservations, attributed to the period the request
    /// started in: the period's totals less what its open reservations past their expiry hold.
    /// </summary>
    private static (long Month, long Day) Usage(SqliteSession session, string tenant, DateTimeOffset now)
    {
        var usage = session.Statement("""
            SELECT
                (SELECT coalesce(sum(committed + held), 0) FROM spend_totals WHERE tenant = $tenant AND period = 'month' AND start = $month),
                (SELECT coalesce(sum(committed + held), 0) FROM spend_totals WHERE tenant = $tenant AND period = 'day' AND start = $day),
                coalesce(sum(amount), 0),
                coalesce(sum(CASE WHEN created_at >= $day THEN amount ELSE 0 END), 0)
            FROM reservations
            WHERE tenant = $tenant AND state = 'open' AND expires_at <= $now AND created_at >= $month
            """);
        usage.Bind("$tenant", tenant)
            .Bind("$month", BudgetPeriods.MonthStart(now).ToUnixTimeMilliseconds())
            .Bind("$day", BudgetPeriods.DayStart(now).ToUnixTimeMilliseconds())
            .Bind("$now", now.ToUnixTimeMilliseconds());
        try
        {
            usage.Read();
            return (usage.GetInt64(0) - usage.GetInt64(2), usage.GetInt64(1) - usage.GetInt64(3));
        }
        finally
        {
            usage.Reset();
        }
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
