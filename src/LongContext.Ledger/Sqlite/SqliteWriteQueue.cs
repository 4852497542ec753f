using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// Group commit for one SQLite file: every write of this process goes through one writer, which
/// takes whatever is queued (up to <see cref="MaxBatch"/> operations) and runs it in one
/// <c>BEGIN IMMEDIATE</c> transaction — one lock acquisition and one WAL sync for the batch instead
/// of one per operation, and no threads sleeping in SQLite's busy handler while they race each
/// other for the write lock. Each operation runs inside its own savepoint, so one that throws is
/// rolled back alone and its caller gets the exception; the others commit. Callers learn their
/// result only after the batch committed. Another process sharing the file still serialises with
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
        var done = new List<Operation>(batch.Count);
        var connection = session.Connection;
        try
        {
            if (connection.State != System.Data.ConnectionState.Open)
            {
                await connection.OpenAsync();
                await using var pragma = connection.CreateCommand();
                pragma.CommandText = _fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
                await pragma.ExecuteNonQueryAsync();
            }

            // IMMEDIATE: the write lock is taken before any budget is read.
            await using var transaction = connection.BeginTransaction(deferred: false);
            session.Transaction = transaction;
            for (var i = 0; i < batch.Count; i++)
            {
                var savepoint = "op" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await transaction.SaveAsync(savepoint);
                try
                {
                    await batch[i].RunAsync(session);
                    await transaction.ReleaseAsync(savepoint);
                    done.Add(batch[i]);
                }
                catch (Exception e)
                {
                    await transaction.RollbackAsync(savepoint);
                    await transaction.ReleaseAsync(savepoint);
                    batch[i].Fail(e);
                }
            }

            await transaction.CommitAsync();
        }
        catch (Exception e)
        {
            // The batch did not commit: nothing it did happened, so every caller still waiting is told.
            foreach (var operation in batch)
            {
                operation.Fail(e);
            }

            await connection.CloseAsync();
            return;
        }
        finally
        {
            session.Transaction = null;
        }

        foreach (var operation in done)
        {
            operation.Complete();
        }
    }

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
