using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// Group commit for one SQLite file: every write of this process goes through one writer, which
/// takes whatever is queued (up to <see cref="MaxBatch"/> operations) and runs it in one
/// <c>BEGIN IMMEDIATE</c> transaction — one lock acquisition and one WAL sync for the batch instead
/// of one per operation, and no threads sleeping in SQLite's busy handler while they race each
/// other for the write lock. When one operation throws, the batch is rolled back and its
/// operations run again one transaction each, so only that caller gets the exception. Callers
/// learn their result only after their transaction committed. Another process sharing the file still serialises with
/// this one through the same lock.
/// </summary>
internal sealed class SqliteWriteQueue : IAsyncDisposable
{
    public const int MaxBatch = 256;

    private readonly Channel<Operation> _queue = Channel.CreateUnbounded<Operation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _connectionString;
    private readonly bool _fullSync;
    private readonly Task _writer;

    public SqliteWriteQueue(string connectionString, bool fullSync = true)
    {
        _connectionString = connectionString;
        _fullSync = fullSync;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the next batch. Not cancellable once queued: a write that was
    /// asked for happens (a reservation whose caller went away is still settled by that caller).
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteSession, Task<T>> work)
    {
        var operation = new Operation<T>(work);
        if (!_queue.Writer.TryWrite(operation))
        {
            throw new ObjectDisposedException(nameof(SqliteWriteQueue), "The ledger is closed.");
        }

        return operation.Result;
    }

    private async Task WriteLoopAsync()
    {
        await using var session = new SqliteSession(new SqliteConnection(_connectionString));
        var batch = new List<Operation>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var operation))
            {
                batch.Add(operation);
            }

            await RunBatchAsync(session, batch);
            batch.Clear();
        }
    }

    private async Task RunBatchAsync(SqliteSession session, List<Operation> batch)
    {
        try
        {
            await EnsureOpenAsync(session.Connection);
            await RunInOneTransactionAsync(session, batch);
        }
        catch (OperationFailedException) when (batch.Count > 1)
        {
            // One operation threw: the batch was rolled back, so each runs again in its own
            // transaction and only the one that fails is told so.
            foreach (var operation in batch)
            {
                await RunBatchAsync(session, [operation]);
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

            await session.Connection.CloseAsync();
            return;
        }

        foreach (var operation in batch)
        {
            operation.Complete();
        }
    }

    private async Task EnsureOpenAsync(SqliteConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            await connection.OpenAsync();
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = _fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
            await pragma.ExecuteNonQueryAsync();
        }
    }

    private static async Task RunInOneTransactionAsync(SqliteSession session, List<Operation> batch)
    {
        // IMMEDIATE: the write lock is taken before any budget is read.
        await using var transaction = session.Connection.BeginTransaction(deferred: false);
        session.Transaction = transaction;
        try
        {
            foreach (var operation in batch)
            {
                try
                {
                    await operation.RunAsync(session);
                }
                catch (Exception e) when (e is not SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_FULL or SQLitePCL.raw.SQLITE_IOERR })
                {
                    throw new OperationFailedException(e);
                }
            }

            await transaction.CommitAsync();
        }
        finally
        {
            session.Transaction = null;
        }
    }

    /// <summary>An operation of the batch threw (as opposed to the database failing the batch).</summary>
    private sealed class OperationFailedException(Exception inner) : Exception(inner.Message, inner);

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private abstract class Operation
    {
        public abstract Task RunAsync(SqliteSession session);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private sealed class Operation<T>(Func<SqliteSession, Task<T>> work) : Operation
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _value;

        public Task<T> Result => _result.Task;

        public override async Task RunAsync(SqliteSession session) =>
            _value = await work(session);

        public override void Complete() => _result.TrySetResult(_value!);

        public override void Fail(Exception error) => _result.TrySetException(error);
    }
}
