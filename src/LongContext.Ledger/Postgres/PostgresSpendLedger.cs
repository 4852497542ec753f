using LongContext.Ledger.Spend;
using Npgsql;

namespace LongContext.Ledger.Postgres;

/// <summary>
/// The shared ledger for several gateway instances. A reservation takes a transaction-scoped
/// advisory lock on the tenant, so check-then-insert is atomic across every gateway process;
/// under READ COMMITTED the budget query after the lock sees every reservation committed before it.
/// </summary>
public sealed class PostgresSpendLedger : ISpendLedger, IAsyncDisposable
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
            """);
        await command.ExecuteNonQueryAsync(cancellationToken);
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

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<bool> SettleAsync(Guid reservationId, string state, long? actual, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("UPDATE reservations SET state = $1, actual = $2, settled_at = now() WHERE id = $3 AND state = 'open'");
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
