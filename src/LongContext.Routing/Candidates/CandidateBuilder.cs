using LongContext.Routing.Catalog;
using LongContext.Routing.Decision;

namespace LongContext.Routing.Candidates;

/// <summary>
/// Lists every way to serve a request with its expected cost, recall and latency. Feasibility
/// is not judged here (filters do that); infeasible candidates are listed so the explanation
/// can say why they lost.
/// </summary>
internal static class CandidateBuilder
{
    public static List<RouteCandidate> Build(RoutingRequest request, IReadOnlyList<ModelProfile> models, RagSettings rag)
    {
        var candidates = new List<RouteCandidate>();
        var rags = new List<RouteCandidate>();
        if (request.ContextTokens > 0)
        {
            foreach (var model in models.Where(m => m.ServesRag))
            {
                rags.Add(Rag(request, model, rag));
            }
        }

        candidates.AddRange(rags);
        var longContexts = new List<RouteCandidate>();
        foreach (var model in models.Where(m => m.ServesLongContext))
        {
            if (model.SelfHosted is { Attention.Count: > 0 } selfHosted)
            {
                longContexts.AddRange(selfHosted.Attention.Select(attention => LongContext(request, model, rag, attention)));
            }
            else
            {
                longContexts.Add(LongContext(request, model, rag, attention: null));
            }
        }

        candidates.AddRange(longContexts);

        // Hybrid pairs each long-context option with the cheapest RAG step: escalation only adds the LC cost.
        var cheapestRag = rags.OrderBy(c => c.ExpectedCostUsd).ThenBy(c => c.Id, StringComparer.Ordinal).FirstOrDefault();
        if (cheapestRag is not null)
        {
            candidates.AddRange(longContexts.Select(lc => Hybrid(cheapestRag, lc, rag, request.Escalation ?? new EscalationEstimate(rag.EscalationProbability, "the configured prior (Routing:Rag:EscalationProbability)"))));
        }

        return candidates;
    }

    private static RouteCandidate Rag(RoutingRequest request, ModelProfile model, RagSettings rag)
    {
        var contextTokens = request.RagContextTokens ?? Math.Min(request.ContextTokens, (long)rag.TopK * rag.ChunkTokens);
        var prompt = request.QuestionTokens + contextTokens + rag.PromptOverheadTokens;

        // Retrieved chunks are positioned best-first at the edges: the answering chunk sits at the depth the positioner reports (the start unless told).
        var keyDepth = request.RagKeyDepth ?? 0;
        var modelRecall = model.ContextRot.ExpectedRecall(prompt, keyDepth);
        var recall = rag.RetrievalRecall * modelRecall;
        var cost = model.Prices.Cost(prompt, 0, request.ExpectedOutputTokens) + (request.QuestionTokens + request.TokensToIndex) * rag.EmbeddingPerMillion / 1_000_000m;
        var indexing = request.TokensToIndex / rag.IndexingTokensPerSecond;
        var latency = rag.RetrievalLatencySeconds + indexing + Latency(model, prompt, request.ExpectedOutputTokens, throughputFactor: 1);
        return new RouteCandidate
        {
            Id = $"{RouteNames.Rag}:{model.Id}",
            Route = RouteKind.Rag,
            Model = model.Id,
            PromptTokens = prompt,
            OutputTokens = request.ExpectedOutputTokens,
            ContextWindow = model.ContextWindow,
            ExpectedCostUsd = cost,
            WorstCaseCostUsd = cost,
            ExpectedRecall = recall,
            ExpectedLatencySeconds = latency,
            Basis =
            [
                request.RagContextTokens is { } retrieved
                    ? $"prompt {prompt:N0} tokens = question {request.QuestionTokens:N0} + {retrieved:N0} tokens of retrieved chunks + {rag.PromptOverheadTokens} overhead"
                    : $"prompt {prompt:N0} tokens = question {request.QuestionTokens:N0} + top {rag.TopK} × {rag.ChunkTokens} chunk tokens (capped at context {request.ContextTokens:N0}) + {rag.PromptOverheadTokens} overhead",
                $"recall {recall:P1} = retrieval recall@{rag.TopK} {rag.RetrievalRecall:P0} × {model.ContextRot.Name} at {prompt:N0} tokens, key chunk at depth {keyDepth:0.##} {modelRecall:P1}",
                PriceBasis(model, prompt, cost),
                .. request.TokensToIndex > 0
                    ? [$"the inline context ({request.TokensToIndex:N0} tokens) is embedded and indexed first: about {indexing:0.#} s at {rag.IndexingTokensPerSecond:N0} tokens/s"]
                    : Array.Empty<string>(),
            ],
        };
    }

    private static RouteCandidate LongContext(RoutingRequest request, ModelProfile model, RagSettings rag, AttentionProfile? attention)
    {
        var prompt = request.QuestionTokens + request.ContextTokens + rag.PromptOverheadTokens;

        // Positioning puts the chunks retrieval ranks first at the start and end; when retrieval
        // missed the key chunk it lands anywhere, i.e. at the depth-averaged recall.
        var curve = model.ContextRot;
        var depthFactor = rag.RetrievalRecall * curve.DepthFactor(request.LongContextKeyDepth ?? 0) + (1 - rag.RetrievalRecall) * 1.0;
        var lengthRecall = curve.RecallAtLength(prompt);
        var methodFactor = attention?.RecallFactor ?? 1;
        var recall = Math.Clamp(lengthRecall * depthFactor * methodFactor, 0, 1);
        var cost = model.Prices.Cost(prompt, 0, request.ExpectedOutputTokens);
        var latency = Latency(model, prompt, request.ExpectedOutputTokens, attention?.ThroughputFactor ?? 1);

        long? kvPerGpu = null, kvFree = null;
        var basis = new List<string>
        {
            $"prompt {prompt:N0} tokens = question {request.QuestionTokens:N0} + whole context {request.ContextTokens:N0} + {rag.PromptOverheadTokens} overhead",
            $"recall {recall:P1} = {curve.Name} at {prompt:N0} tokens {lengthRecall:P1} × positioning {depthFactor:0.###}" + (attention is null ? "" : $" × {attention.Method} {methodFactor:0.###}"),
            PriceBasis(model, prompt, cost),
        };
        if (model.SelfHosted is { } selfHosted && attention is not null)
        {
            var layout = new Memory.KvLayout(attention.ShardsKvOverGpus, attention.KvTokenLimit);
            var keptTokens = Memory.KvMemoryPlanner.TokensKept(prompt + request.ExpectedOutputTokens, layout);
            var total = selfHosted.Kv.BytesFor(keptTokens);
            kvPerGpu = Memory.KvMemoryPlanner.BytesPerDevice(selfHosted.Kv, prompt + request.ExpectedOutputTokens, selfHosted.Gpus, layout);
            kvFree = selfHosted.FreeBytesPerGpu;
            basis.Add($"KV cache {Gib(total)} = 2·{selfHosted.Kv.Layers}·{selfHosted.Kv.KvHeads}·{selfHosted.Kv.HeadDim}·{keptTokens:N0}·{selfHosted.Kv.BytesPerValue} B"
                + (attention.ShardsKvOverGpus ? $", {Gib(kvPerGpu.Value)} on each of {selfHosted.Gpus} GPUs" : ", on one GPU")
                + $"; {Gib(kvFree.Value)} free per GPU");
        }

        return new RouteCandidate
        {
            Id = attention is null ? $"{RouteNames.LongContext}:{model.Id}" : $"{RouteNames.LongContext}:{model.Id}:{attention.Method}",
            Route = RouteKind.LongContext,
            Model = model.Id,
            Attention = attention?.Method,
            PromptTokens = prompt,
            OutputTokens = request.ExpectedOutputTokens,
            ContextWindow = model.ContextWindow,
            KvBytesPerGpu = kvPerGpu,
            KvFreeBytesPerGpu = kvFree,
            ExpectedCostUsd = cost,
            WorstCaseCostUsd = cost,
            ExpectedRecall = recall,
            ExpectedLatencySeconds = latency,
            Basis = basis,
        };
    }

    private static RouteCandidate Hybrid(RouteCandidate rag, RouteCandidate longContext, RagSettings settings, EscalationEstimate escalation)
    {
        var p = escalation.Probability;

        // Answered by RAG only when the model judges the chunks sufficient: those answers carry the
        // model's short-prompt recall; the rest carry the long-context recall.
        var answeredRecall = rag.ExpectedRecall / settings.RetrievalRecall;
        var recall = Math.Clamp((1 - p) * answeredRecall + p * longContext.ExpectedRecall, 0, 1);
        var cost = rag.ExpectedCostUsd + (decimal)p * longContext.ExpectedCostUsd;
        return longContext with
        {
            Id = $"{RouteNames.Hybrid}:{rag.Model}>{longContext.Id[(RouteNames.LongContext.Length + 1)..]}",
            Route = RouteKind.Hybrid,
            Model = rag.Model,
            EscalationModel = longContext.Model,
            ExpectedCostUsd = cost,
            WorstCaseCostUsd = rag.WorstCaseCostUsd + longContext.WorstCaseCostUsd,
            ExpectedRecall = recall,
            ExpectedLatencySeconds = rag.ExpectedLatencySeconds + p * longContext.ExpectedLatencySeconds,
            Basis =
            [
                $"RAG first with {rag.Model}; escalates to {longContext.Id} with probability {p:P0} ({escalation.Basis})",
                $"recall {recall:P1} = {1 - p:P0} × {answeredRecall:P1} (answered from chunks) + {p:P0} × {longContext.ExpectedRecall:P1} (long context)",
                $"cost ${cost:0.######} = RAG ${rag.ExpectedCostUsd:0.######} + {p:P0} × long context ${longContext.ExpectedCostUsd:0.######}",
                .. longContext.Basis.Where(b => b.StartsWith("KV cache", StringComparison.Ordinal)),
            ],
        };
    }

    private static string PriceBasis(ModelProfile model, long prompt, decimal cost)
    {
        var prices = model.Prices.For(prompt);
        var tier = ReferenceEquals(prices, model.Prices) ? "" : $" (long-prompt tier above {model.Prices.LongPrompt!.AbovePromptTokens:N0} tokens)";
        return $"cost ${cost:0.######} at ${prices.InputPerMillion}/1M in, ${prices.OutputPerMillion}/1M out{tier}";
    }

    private static double Latency(ModelProfile model, long prompt, long output, double throughputFactor) =>
        prompt / (model.PrefillTokensPerSecond * throughputFactor) + output / model.DecodeTokensPerSecond;

    private static string Gib(long bytes) => $"{bytes / 1e9:0.##} GB";
}
