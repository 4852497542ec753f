using LongContext.Ledger.Spend;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// The embedded ledger: one SQLite file. A reservation checks and inserts inside one
/// <c>BEGIN IMMEDIATE</c> transaction, so SQLite's single writer lock makes check-then-insert
/// atomic across threads and processes sharing the file.
/// </summary>
public sealed class SqliteSpendLedger : ISpendLedger
{
    private readonly string _connectionString;

    private SqliteSpendLedger(string connectionString) => _connectionString = connectionString;

    public static async Task<SqliteSpendLedger> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
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
        var ledger = new SqliteSpendLedger(connectionString);
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
            CREATE INDEX IF NOT EXISTS ix_reservations_tenant_created ON reservations (tenant, created_at);
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ledger;
    }

    public async Task<ReservationResult> ReserveAsync(ReservationRequest request, CancellationToken cancellationToken = default)
    {
        var amount = Money.ToUnits(request.AmountUsd);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        // IMMEDIATE takes the write lock before the budget is read: no other writer can slip in between.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var (monthUsed, dayUsed) = await UsageAsync(connection, transaction, request.TenantId, request.Now, cancellationToken);
        var check = BudgetCheck.Of(monthUsed, dayUsed, request.Limits);
        Guid? id = null;
        if (check.Fits(amount))
        {
            id = Guid.CreateVersion7(request.Now);
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO reservations (id, tenant, amount, state, created_at, expires_at) VALUES ($id, $tenant, $amount, 'open', $created, $expires)";
            insert.Parameters.AddWithValue("$id", id.Value.ToString());
            insert.Parameters.AddWithValue("$tenant", request.TenantId);
            insert.Parameters.AddWithValue("$amount", amount);
            insert.Parameters.AddWithValue("$created", request.Now.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$expires", (request.Now + request.TimeToLive).ToUnixTimeMilliseconds());
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
        await using var connection = await OpenConnectionAsync(cancellationToken);
        var (month, day) = await UsageAsync(connection, null, tenantId, now, cancellationToken);
        return new BudgetUsage(Money.ToUsd(month), Money.ToUsd(day));
    }

    /// <summary>
    /// A commit also lands after a reservation expired: the money was spent, so it counts.
    /// Only an open reservation can be settled, once.
    /// </summary>
    private async Task<bool> SettleAsync(Guid reservationId, string state, long? actual, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE reservations SET state = $state, actual = $actual, settled_at = $now WHERE id = $id AND state = 'open'";
        command.Parameters.AddWithValue("$state", state);
        command.Parameters.AddWithValue("$actual", (object?)actual ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$id", reservationId.ToString());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Committed actuals plus open, unexpired reservations, attributed to the period the request started in.</summary>
    private static async Task<(long Month, long Day)> UsageAsync(SqliteConnection connection, SqliteTransaction? transaction, string tenant, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT
                COALESCE(SUM(counted), 0),
                COALESCE(SUM(CASE WHEN created_at >= $day THEN counted ELSE 0 END), 0)
            FROM (
                SELECT created_at,
                       CASE WHEN state = 'committed' THEN actual
                            WHEN state = 'open' AND expires_at > $now THEN amount
                            ELSE 0 END AS counted
                FROM reservations
                WHERE tenant = $tenant AND created_at >= $month
            )
            """;
        command.Parameters.AddWithValue("$tenant", tenant);
        command.Parameters.AddWithValue("$month", BudgetPeriods.MonthStart(now).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$day", BudgetPeriods.DayStart(now).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
