using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qdrant.Client.Grpc;

namespace LongContext.Rag.Tests.Qdrant;

/// <summary>
/// A protocol-level stand-in for Qdrant: a gRPC server on 127.0.0.1 speaking Qdrant's own wire
/// messages (the types inside the Qdrant.Client package) for the calls the store makes —
/// collections create/delete/exists; points upsert, get, delete, delete-payload, count, scroll,
/// query (dense cosine, sparse dot product with Qdrant's IDF modifier) with must/must-not/should
/// filters on keyword matches and is-empty. It is a contract fixture, not a vector database.
/// </summary>
internal sealed class QdrantProtocolFixture : IAsyncDisposable
{
    private readonly WebApplication _app;

    private QdrantProtocolFixture(WebApplication app, Uri address) => (_app, Address) = (app, address);

    public Uri Address { get; }

    public static async Task<QdrantProtocolFixture> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<QdrantState>();
        builder.Services.AddSingleton(typeof(IServiceMethodProvider<>).MakeGenericType(typeof(PointsService)), typeof(QdrantMethods<PointsService>));
        builder.Services.AddSingleton(typeof(IServiceMethodProvider<>).MakeGenericType(typeof(CollectionsService)), typeof(QdrantMethods<CollectionsService>));
        var app = builder.Build();
        app.MapGrpcService<PointsService>();
        app.MapGrpcService<CollectionsService>();
        await app.StartAsync();
        return new QdrantProtocolFixture(app, new Uri(app.Urls.Single()));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>Binds Qdrant's RPCs by name (as generated server code would) to the fixture's handlers.</summary>
internal sealed class QdrantMethods<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        if (typeof(TService) == typeof(PointsService))
        {
            Add<UpsertPoints, PointsOperationResponse>(context, "qdrant.Points", "Upsert", (s, r) => ((PointsService)(object)s).Upsert(r));
            Add<GetPoints, GetResponse>(context, "qdrant.Points", "Get", (s, r) => ((PointsService)(object)s).Get(r));
            Add<DeletePoints, PointsOperationResponse>(context, "qdrant.Points", "Delete", (s, r) => ((PointsService)(object)s).Delete(r));
            Add<DeletePayloadPoints, PointsOperationResponse>(context, "qdrant.Points", "DeletePayload", (s, r) => ((PointsService)(object)s).DeletePayload(r));
            Add<CountPoints, CountResponse>(context, "qdrant.Points", "Count", (s, r) => ((PointsService)(object)s).Count(r));
            Add<ScrollPoints, ScrollResponse>(context, "qdrant.Points", "Scroll", (s, r) => ((PointsService)(object)s).Scroll(r));
            Add<QueryPoints, QueryResponse>(context, "qdrant.Points", "Query", (s, r) => ((PointsService)(object)s).Query(r));
        }
        else
        {
            Add<CreateCollection, CollectionOperationResponse>(context, "qdrant.Collections", "Create", (s, r) => ((CollectionsService)(object)s).Create(r));
            Add<DeleteCollection, CollectionOperationResponse>(context, "qdrant.Collections", "Delete", (s, r) => ((CollectionsService)(object)s).Delete(r));
            Add<CollectionExistsRequest, CollectionExistsResponse>(context, "qdrant.Collections", "CollectionExists", (s, r) => ((CollectionsService)(object)s).CollectionExists(r));
        }
    }

    private static void Add<TRequest, TResponse>(ServiceMethodProviderContext<TService> context, string service, string name, Func<TService, TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        var parser = new MessageParser<TRequest>(() => new TRequest());
        var method = new Method<TRequest, TResponse>(MethodType.Unary, service, name,
            Marshallers.Create<TRequest>(r => r.ToByteArray(), parser.ParseFrom),
            Marshallers.Create<TResponse>(r => r.ToByteArray(), _ => throw new NotSupportedException()));
        context.AddUnaryMethod(method, [], (service, request, _) => Task.FromResult(handler(service, request)));
    }
}

internal sealed class QdrantState
{
    public ConcurrentDictionary<string, StoredCollection> Collections { get; } = new(StringComparer.Ordinal);

    public StoredCollection Get(string name) =>
        Collections.TryGetValue(name, out var collection) ? collection : throw new RpcException(new Status(StatusCode.NotFound, $"Collection `{name}` doesn't exist!"));
}

internal sealed class StoredCollection(bool sparseIdf)
{
    public bool SparseIdf => sparseIdf;

    public SortedDictionary<string, StoredPoint> Points { get; } = new(StringComparer.Ordinal);
}

internal sealed record StoredPoint(PointId Id, Dictionary<string, Value> Payload, Dictionary<string, float[]> Dense, Dictionary<string, (uint[] Indices, float[] Values)> Sparse);

internal sealed class CollectionsService(QdrantState state)
{
    public CollectionOperationResponse Create(CreateCollection request)
    {
        var idf = request.SparseVectorsConfig?.Map.Values.Any(p => p.Modifier == Modifier.Idf) == true;
        if (!state.Collections.TryAdd(request.CollectionName, new StoredCollection(idf)))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"Collection `{request.CollectionName}` already exists!"));
        }

        return new CollectionOperationResponse { Result = true };
    }

    public CollectionOperationResponse Delete(DeleteCollection request) => new() { Result = state.Collections.TryRemove(request.CollectionName, out _) };

    public CollectionExistsResponse CollectionExists(CollectionExistsRequest request) =>
        new() { Result = new global::Qdrant.Client.Grpc.CollectionExists { Exists = state.Collections.ContainsKey(request.CollectionName) } };
}

internal sealed class PointsService(QdrantState state)
{
    private static readonly PointsOperationResponse Done = new() { Result = new UpdateResult { Status = UpdateStatus.Completed } };

    public PointsOperationResponse Upsert(UpsertPoints request)
    {
        var collection = state.Get(request.CollectionName);
        lock (collection)
        {
            foreach (var point in request.Points)
            {
                var (dense, sparse) = (new Dictionary<string, float[]>(), new Dictionary<string, (uint[], float[])>());
                var named = point.Vectors.VectorsOptionsCase == Vectors.VectorsOptionsOneofCase.Vectors_
                    ? point.Vectors.Vectors_.Vectors.ToDictionary(v => v.Key, v => v.Value)
                    : new Dictionary<string, Vector> { [""] = point.Vectors.Vector };
                foreach (var (name, vector) in named)
                {
#pragma warning disable CS0612 // clients may still send vectors in the older data/indices fields

                    if (vector.Sparse is { } s)
                    {
                        sparse[name] = ([.. s.Indices], [.. s.Values]);
                    }
                    else if (vector.Indices is { Data.Count: > 0 } indices)
                    {
                        sparse[name] = ([.. indices.Data], [.. vector.Data]);
                    }
                    else
                    {
                        dense[name] = vector.Dense is { } d ? [.. d.Data] : [.. vector.Data];
                    }
#pragma warning restore CS0612
                }

                collection.Points[Key(point.Id)] = new StoredPoint(point.Id, point.Payload.ToDictionary(p => p.Key, p => p.Value), dense, sparse);
            }
        }

        return Done;
    }

    public GetResponse Get(GetPoints request)
    {
        var collection = state.Get(request.CollectionName);
        var response = new GetResponse();
        lock (collection)
        {
            foreach (var id in request.Ids)
            {
                if (collection.Points.TryGetValue(Key(id), out var point))
                {
                    response.Result.Add(new RetrievedPoint { Id = point.Id, Payload = { point.Payload } });
                }
            }
        }

        return response;
    }

    public PointsOperationResponse Delete(DeletePoints request)
    {
        var collection = state.Get(request.CollectionName);
        lock (collection)
        {
            foreach (var key in Selected(collection, request.Points))
            {
                collection.Points.Remove(key);
            }
        }

        return Done;
    }

    public PointsOperationResponse DeletePayload(DeletePayloadPoints request)
    {
        var collection = state.Get(request.CollectionName);
        lock (collection)
        {
            foreach (var key in Selected(collection, request.PointsSelector))
            {
                foreach (var field in request.Keys)
                {
                    collection.Points[key].Payload.Remove(field);
                }
            }
        }

        return Done;
    }

    public CountResponse Count(CountPoints request)
    {
        var collection = state.Get(request.CollectionName);
        lock (collection)
        {
            return new CountResponse { Result = new CountResult { Count = (ulong)collection.Points.Values.Count(p => Matches(request.Filter, p)) } };
        }
    }

    public ScrollResponse Scroll(ScrollPoints request)
    {
        var collection = state.Get(request.CollectionName);
        lock (collection)
        {
            var limit = request.HasLimit ? (int)request.Limit : 10;
            var from = request.Offset is null ? null : Key(request.Offset);
            var matching = collection.Points.Where(p => (from is null || string.CompareOrdinal(p.Key, from) >= 0) && Matches(request.Filter, p.Value)).Take(limit + 1).ToList();
            var response = new ScrollResponse();
            response.Result.AddRange(matching.Take(limit).Select(p => new RetrievedPoint { Id = p.Value.Id, Payload = { p.Value.Payload } }));
            if (matching.Count > limit)
            {
                response.NextPageOffset = matching[limit].Value.Id;
            }

            return response;
        }
    }

    public QueryResponse Query(QueryPoints request)
    {
        var collection = state.Get(request.CollectionName);
        var input = request.Query.Nearest ?? throw new RpcException(new Status(StatusCode.Unimplemented, "the fixture answers nearest-vector queries only"));
        var name = request.HasUsing ? request.Using : "";
        lock (collection)
        {
            var candidates = collection.Points.Values.Where(p => Matches(request.Filter, p)).ToList();
            IEnumerable<(StoredPoint Point, double Score)> scored;
            if (input.Sparse is { } sparse)
            {
                var weights = sparse.Indices.Zip(sparse.Values).ToDictionary(x => x.First, x => (double)x.Second);
                var withVector = collection.Points.Values.Where(p => p.Sparse.ContainsKey(name)).ToList();
                scored = candidates.Where(p => p.Sparse.ContainsKey(name)).Select(p =>
                {
                    var (indices, values) = p.Sparse[name];
                    var score = 0.0;
                    for (var i = 0; i < indices.Length; i++)
                    {
                        if (weights.TryGetValue(indices[i], out var w))
                        {
                            score += w * values[i] * (collection.SparseIdf ? Idf(withVector, name, indices[i]) : 1);
                        }
                    }

                    return (p, score);
                }).Where(x => x.score > 0);
            }
            else
            {
                var query = input.Dense is { } d ? d.Data.ToArray() : throw new RpcException(new Status(StatusCode.InvalidArgument, "no query vector"));
                scored = candidates.Where(p => p.Dense.ContainsKey(name)).Select(p => (p, Cosine(query, p.Dense[name])));
            }

            var response = new QueryResponse();
            response.Result.AddRange(scored.OrderByDescending(x => x.Score).Take(request.HasLimit ? (int)request.Limit : 10)
                .Select(x => new ScoredPoint { Id = x.Point.Id, Score = (float)x.Score, Payload = { x.Point.Payload } }));
            return response;
        }
    }

    /// <summary>Qdrant's IDF: ln(1 + (N − n + 0.5) / (n + 0.5)) over the points that have the sparse vector.</summary>
    private static double Idf(List<StoredPoint> points, string name, uint index)
    {
        var n = points.Count(p => Array.IndexOf(p.Sparse[name].Indices, index) >= 0);
        return Math.Log(1 + (points.Count - n + 0.5) / (n + 0.5));
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            (dot, na, nb) = (dot + a[i] * b[i], na + a[i] * a[i], nb + b[i] * b[i]);
        }

        return dot / Math.Sqrt(na * nb);
    }

    private static List<string> Selected(StoredCollection collection, PointsSelector selector) =>
        selector.PointsSelectorOneOfCase == PointsSelector.PointsSelectorOneOfOneofCase.Filter
            ? [.. collection.Points.Where(p => Matches(selector.Filter, p.Value)).Select(p => p.Key)]
            : [.. selector.Points.Ids.Select(Key).Where(collection.Points.ContainsKey)];

    private static bool Matches(Filter? filter, StoredPoint point) =>
        filter is null
        || (filter.Must.All(c => Holds(c, point)) && !filter.MustNot.Any(c => Holds(c, point)) && (filter.Should.Count == 0 || filter.Should.Any(c => Holds(c, point))));

    private static bool Holds(Condition condition, StoredPoint point) => condition.ConditionOneOfCase switch
    {
        Condition.ConditionOneOfOneofCase.IsEmpty => !point.Payload.TryGetValue(condition.IsEmpty.Key, out var v) || v.KindCase == Value.KindOneofCase.NullValue || v.ListValue is { Values.Count: 0 },
        Condition.ConditionOneOfOneofCase.HasId => condition.HasId.HasId.Any(id => Key(id) == Key(point.Id)),
        Condition.ConditionOneOfOneofCase.Filter => Matches(condition.Filter, point),
        Condition.ConditionOneOfOneofCase.Field => Field(condition.Field, point),
        _ => throw new RpcException(new Status(StatusCode.Unimplemented, $"the fixture does not evaluate {condition.ConditionOneOfCase} conditions")),
    };

    private static bool Field(FieldCondition field, StoredPoint point)
    {
        if (!point.Payload.TryGetValue(field.Key, out var value) || field.Match is null)
        {
            return false;
        }

        return field.Match.MatchValueCase switch
        {
            Match.MatchValueOneofCase.Keyword => value.StringValue == field.Match.Keyword,
            Match.MatchValueOneofCase.Keywords => field.Match.Keywords.Strings.Contains(value.StringValue),
            Match.MatchValueOneofCase.Integer => value.IntegerValue == field.Match.Integer,
            _ => throw new RpcException(new Status(StatusCode.Unimplemented, $"the fixture does not evaluate {field.Match.MatchValueCase} matches")),
        };
    }

    private static string Key(PointId id) => id.HasUuid ? id.Uuid : id.Num.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
