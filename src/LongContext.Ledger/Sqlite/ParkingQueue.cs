using System.Collections.Concurrent;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// A many-producer, one-consumer queue whose consumer sleeps on a monitor as soon as the queue is
/// empty, without spinning first. <see cref="BlockingCollection{T}"/> spins and yields before it
/// sleeps, which on a machine with few cores takes the time the producers need to make the next
/// item; the ledger's threads have nothing better to do than wait, so they wait for free.
/// </summary>
internal sealed class ParkingQueue<T>
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly object _gate = new();
    private bool _sleeping;
    private bool _completed;

    /// <summary>Adds an item and wakes the consumer when it sleeps. Throws once <see cref="CompleteAdding"/> was called.</summary>
    public void Add(T item)
    {
        lock (_gate)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The queue was completed.");
            }

            _items.Enqueue(item);
            if (_sleeping)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Takes an item when there is one, without waiting. Consumer only.</summary>
    public bool TryTake(out T item) => _items.TryDequeue(out item!);

    /// <summary>Takes the next item, sleeping until there is one. False once the queue is completed and empty. Consumer only.</summary>
    public bool Take(out T item)
    {
        if (_items.TryDequeue(out item!))
        {
            return true;
        }

        lock (_gate)
        {
            while (!_items.TryDequeue(out item!))
            {
                if (_completed)
                {
                    return false;
                }

                _sleeping = true;
                Monitor.Wait(_gate);
                _sleeping = false;
            }

            return true;
        }
    }

    /// <summary>No more items will be added: the consumer takes what is queued and then stops.</summary>
    public void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.Pulse(_gate);
        }
    }
}
