using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// Group commit for one SQLite file. Every write of this process goes through one writer thread,
/// which takes whatever is queued (up to <see cref="MaxBatch"/> operations) and runs it in one
/// <c>BEGIN IMMEDIATE</c> transaction: one lock acquisition for the batch instead of one per
/// operation, and no threads sleeping in SQLite's busy handler while they race each other for the
/// write lock. When one operation throws, the batch is rolled back and its operations run again
/// one transaction each, so only that caller gets the exception. Another process sharing the file
/// still serialises with this one through the same lock.
/// <para>
/// Durability (<see cref="SqliteDurability.Full"/>) is pipelined: the writer commits without
/// waiting for the disk and goes on with the next batch while a second thread makes the write-ahead
/// log durable — one <c>fsync</c> for every batch committed since its last one — and only then
/// answers those batches' callers (those that asked to wait for the disk; see <see cref="WriteAsync"/>). A caller therefore learns of its write exactly when SQLite's
/// <c>synchronous = FULL</c> would have told it (after its log frames reached the disk), but the
/// disk's flush no longer stalls the writer, and a slow flush covers more batches instead of
/// holding the rest back. A database that is not in WAL mode is synced by SQLite at every commit.
/// </para>
/// </summary>
internal sealed class SqliteWriteQueue : IAsyncDisposable
{
    public const int MaxBatch = 256;

    private readonly ParkingQueue<Operation> _queue = new();
    private readonly ParkingQueue<Operation[]> _committed = new();
    private readonly string _connectionString;
    private readonly string _walPath;
    private readonly SqliteDurability _durability;
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _syncerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private long _logFlushes;

    /// <summary>How many times the sync thread has flushed the log (for tests).</summary>
    internal long LogFlushes => Interlocked.Read(ref _logFlushes);

    /// <summary>Whether commits wait for the sync thread: the database is in WAL mode and the ledger syncs. Writer thread only.</summary>
    private bool _pipelined;

    /// <summary>The writer connection's <c>PRAGMA synchronous</c>, as last set. Writer thread only.</summary>
    private string? _synchronous;

    public SqliteWriteQueue(string connectionString, string databasePath, SqliteDurability durability)
    {
        _connectionString = connectionString;
        _walPath = databasePath + "-wal";
        _durability = durability;
        StartThread("ledger-writer", WriteLoop, _writerDone);
        StartThread("ledger-sync", SyncLoop, _syncerDone);
    }

    private static void StartThread(string name, Action loop, TaskCompletionSource done)
    {
        var thread = new Thread(() =>
        {
            try
            {
                loop();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the next batch, on the writer thread (so it must not block on
    /// anything but SQLite). Not cancellable once queued: a write that was asked for happens (a
    /// reservation whose caller went away is still settled by that caller). With
    /// <paramref name="waitForDisk"/> false the caller is answered once the batch committed — visible
    /// to every connection and process, atomic with its batch — without waiting for the log flush:
    /// for writes that a machine crash makes moot anyway (a budget hold dies with the request that
    /// held it; the flush that makes its settlement durable makes the hold durable too).
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteSession, T> work, bool waitForDisk = true)
    {
        var operation = new Operation<T>(work, waitForDisk);
        try
        {
            _queue.Add(operation);
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(SqliteWriteQueue), "The ledger is closed.");
        }

        return operation.Result;
    }

    private void WriteLoop()
    {
        using var session = new SqliteSession(new SqliteConnection(_connectionString));
        var batch = new List<Operation>(MaxBatch);
        try
        {
            while (_queue.Take(out var first))
            {
                batch.Add(first);
                while (batch.Count < MaxBatch && _queue.TryTake(out var operation))
                {
                    batch.Add(operation);
                }

                RunBatch(session, batch);
                batch.Clear();
            }
        }
        finally
        {
            _committed.CompleteAdding();
        }
    }

    private void RunBatch(SqliteSession session, List<Operation> batch)
    {
        bool inline;
        try
        {
            inline = EnsureOpen(session.Connection);
            RunInOneTransaction(session, batch);
        }
        catch (OperationFailedException) when (batch.Count > 1)
        {
            // One operation threw: the batch was rolled back, so each runs again in its own
            // transaction and only the one that fails is told so.
            foreach (var operation in batch)
            {
                RunBatch(session, [operation]);
            }

            return;
        }
        catch (Exception e)
        {
            // The batch did not commit: nothing it did happened, so every caller still waiting is told.
            foreach (var operation in batch)
            {
                operation.Fail(e is OperationFailedException failed ? failed.InnerException! : e);
            }

            session.Close();
            return;
        }

        foreach (var operation in batch.Where(o => inline || !o.WaitsForDisk))
        {
            operation.Complete();
        }

        if (!inline && batch.Any(o => o.WaitsForDisk))
        {
            _committed.Add([.. batch.Where(o => o.WaitsForDisk)]);
        }
    }

    /// <summary>
    /// Opens the connection when it is not. Whether this batch's commit is durable by itself (true:
    /// SQLite syncs it) or waits for the sync thread. The first commit of each connection is synced
    /// by SQLite, which also syncs the directory of a log file it has just created.
    /// </summary>
    private bool EnsureOpen(SqliteConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            connection.Open();
            _synchronous = null;
            using var mode = connection.CreateCommand();
            mode.CommandText = "PRAGMA journal_mode";
            _pipelined = _durability == SqliteDurability.Full && string.Equals(mode.ExecuteScalar() as string, "wal", StringComparison.OrdinalIgnoreCase);
            SetSynchronous(connection, _durability == SqliteDurability.Full ? "FULL" : "NORMAL");
            return true;
        }

        if (_pipelined)
        {
            SetSynchronous(connection, "NORMAL");
        }

        return !_pipelined;
    }

    private void SetSynchronous(SqliteConnection connection, string level)
    {
        if (_synchronous == level)
        {
            return;
        }

        using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA synchronous = {level}";
        pragma.ExecuteNonQuery();
        _synchronous = level;
    }

    private static void RunInOneTransaction(SqliteSession session, List<Operation> batch)
    {
        // IMMEDIATE: the write lock is taken before any budget is read.
        using var transaction = session.Connection.BeginTransaction(deferred: false);
        foreach (var operation in batch)
        {
            try
            {
                operation.Run(session);
            }
            catch (Exception e) when (e is not SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_FULL or SQLitePCL.raw.SQLITE_IOERR })
            {
                throw new OperationFailedException(e);
            }
        }

        transaction.Commit();
    }

    /// <summary>
    /// Makes committed batches durable: takes every batch committed so far, flushes the log file
    /// once (which covers all of them: each was written to it before it was queued here), then
    /// answers their callers. When the flush fails, those callers get the error: their writes are
    /// in the database but not known to be on disk.
    /// </summary>
    private void SyncLoop()
    {
        var pending = new List<Operation[]>();
        while (_committed.Take(out var first))
        {
            pending.Add(first);
            while (_committed.TryTake(out var more))
            {
                pending.Add(more);
            }

            Exception? failure = null;
            try
            {
                FlushLog();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = e;
            }

            foreach (var operation in pending.SelectMany(batch => batch))
            {
                if (failure is null)
                {
                    operation.Complete();
                }
                else
                {
                    operation.Fail(failure);
                }
            }

            pending.Clear();
        }
    }

    private void FlushLog()
    {
        // Opened for each flush, so it is always the log file SQLite is writing now.
        try
        {
            using var log = File.OpenHandle(_walPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.FlushToDisk(log);
            Interlocked.Increment(ref _logFlushes);
        }
        catch (FileNotFoundException)
        {
            // The log is gone only when the last connection closed, and SQLite checkpoints it into
            // the database file and syncs that first: what it held is already durable.
        }
    }

    /// <summary>An operation of the batch threw (as opposed to the database failing the batch).</summary>
    private sealed class OperationFailedException(Exception inner) : Exception(inner.Message, inner);

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _queue.CompleteAdding();
        await _writerDone.Task;
        await _syncerDone.Task;
    }

    private abstract class Operation(bool waitsForDisk)
    {
        public bool WaitsForDisk => waitsForDisk;

        public abstract void Run(SqliteSession session);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private sealed class Operation<T>(Func<SqliteSession, T> work, bool waitsForDisk) : Operation(waitsForDisk)
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _value;

        public Task<T> Result => _result.Task;

        public override void Run(SqliteSession session) => _value = work(session);

        public override void Complete() => _result.TrySetResult(_value!);

        public override void Fail(Exception error) => _result.TrySetException(error);
    }
}
