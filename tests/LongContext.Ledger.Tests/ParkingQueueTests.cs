using LongContext.Ledger.Sqlite;

namespace LongContext.Ledger.Tests;

public sealed class ParkingQueueTests
{
    [Fact]
    public async Task EveryItemOfManyProducers_IsTakenOnce_InEachProducersOrder()
    {
        const int producers = 8, each = 5_000;
        var queue = new ParkingQueue<(int Producer, int Sequence)>();
        var taken = new List<(int Producer, int Sequence)>();
        var consumer = Task.Factory.StartNew(
            () =>
            {
                while (queue.Take(out var item))
                {
                    taken.Add(item);
                    while (queue.TryTake(out var more))
                    {
                        taken.Add(more);
                    }
                }
            },
            TaskCreationOptions.LongRunning);

        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < each; i++)
            {
                queue.Add((p, i));
            }
        })));
        queue.CompleteAdding();
        await consumer.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(producers * each, taken.Count);
        foreach (var group in taken.GroupBy(t => t.Producer))
        {
            Assert.Equal(Enumerable.Range(0, each), group.Select(t => t.Sequence));
        }
    }

    [Fact]
    public async Task ASleepingConsumer_WakesForTheNextItem()
    {
        var queue = new ParkingQueue<string>();
        var take = Task.Factory.StartNew(() => queue.Take(out var item) ? item : null, TaskCreationOptions.LongRunning);
        await Task.Delay(100);
        Assert.False(take.IsCompleted);

        queue.Add("first");

        Assert.Equal("first", await take.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AfterCompleteAdding_QueuedItemsAreStillTaken_ThenTakeEnds_AndAddThrows()
    {
        var queue = new ParkingQueue<int>();
        queue.Add(1);
        queue.Add(2);
        queue.CompleteAdding();

        Assert.Throws<InvalidOperationException>(() => queue.Add(3));
        Assert.True(queue.Take(out var first));
        Assert.True(queue.Take(out var second));
        Assert.Equal((1, 2), (first, second));
        Assert.False(queue.Take(out _));

        // A consumer already asleep when the queue completes wakes and ends.
        var idle = new ParkingQueue<int>();
        var take = Task.Factory.StartNew(() => idle.Take(out _), TaskCreationOptions.LongRunning);
        await Task.Delay(100);
        idle.CompleteAdding();
        Assert.False(await take.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
