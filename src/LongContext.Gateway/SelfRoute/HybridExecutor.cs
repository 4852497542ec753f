using System.Text.Json;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Api;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using LongContext.Routing.Decision;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace LongContext.Gateway.SelfRoute;

/// <summary>How a hybrid request ended: what to commit, and each step's part, for the ledger and the decision log.</summary>
internal sealed record HybridOutcome(string Status, decimal? ActualUsd, UpstreamUsage? Usage, bool? Escalated, decimal? RagCostUsd, decimal? LongContextCostUsd, string? Note);

/// <summary>
/// Self-Route (Li et al. 2024) for one request: the RAG step through Semantic Kernel with the
/// self-route instruction — the model answers from the retrieved chunks or replies with the
/// marker — and, on the marker, the long-context step: the whole positioned corpus forwarded to
/// the escalation model. The client gets whichever answered, as JSON or as a stream, and never the
/// marker: a streamed RAG reply is held back only until it departs from the marker.
/// </summary>
internal sealed partial class HybridExecutor(
    SelfRouteKernels kernels,
    SelfRoutePrompt prompt,
    UpstreamBodies bodies,
    RoutingCatalog routing,
    ModelCatalog models,
    UpstreamForwarder forwarder,
    TimeProvider time,
    ILogger<HybridExecutor> logger)
{
    public async Task<HybridOutcome> ExecuteAsync(HttpContext context, ChatCompletionRequest request, RoutePlan plan, UsageMeteringStream meter, Dictionary<string, string> headers)
    {
        var candidate = plan.Decision.Chosen!;
        var ragModel = plan.Chosen!;
        var longContextModel = models.Find(context.GetTenant(), candidate.EscalationModel!)
            ?? throw new InvalidOperationException($"Routing chose {candidate.EscalationModel} to escalate to, which the tenant cannot use.");
        var ragWorst = plan.Decision.Candidates.Select(v => v.Candidate).First(c => c.Route == RouteKind.Rag && c.Model == candidate.Model).WorstCaseCostUsd;
        var longContextWorst = candidate.WorstCaseCostUsd - ragWorst;
        var aborted = context.RequestAborted;

        // The RAG step.
        var chunks = await bodies.ContextAsync(request, plan, RouteKind.Rag, aborted) ?? "";
        var history = History(await prompt.RenderAsync(chunks, request.LastUserText(), aborted), request);
        var settings = ExecutionSettings(request, ragModel);
        var kernel = kernels.For(ragModel);
        var chat = kernel.GetRequiredService<IChatCompletionService>();
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        silence.CancelAfter(ragModel.Cluster.ActivityTimeout);
        var rag = request.Stream
            ? await StreamRagAsync(context, request, chat, history, settings, kernel, headers, silence, ragModel.Cluster.ActivityTimeout)
            : await CompleteRagAsync(context, chat, history, settings, kernel, headers, silence.Token);
        var ragCost = rag.Usage is { } ragUsage ? Cost(ragModel.Alias, ragUsage) : ragWorst;
        switch (rag.Verdict)
        {
            case RagVerdict.Failed:
                return new(LongContext.Ledger.Decisions.DecisionStatuses.Failed, null, null, null, null, null, $"the RAG step failed ({rag.Failure}); the reservation was released");
            case RagVerdict.ClientGone:
                return new(LongContext.Ledger.Decisions.DecisionStatuses.Cancelled, ragCost, rag.Usage, null, ragCost, null, "the client went away during the RAG step; the RAG step was paid");
            case RagVerdict.Answered:
                return new(LongContext.Ledger.Decisions.DecisionStatuses.Completed, ragCost, rag.Usage, false, ragCost, null, rag.Usage is null ? "the RAG step reported no usage; its worst case was committed" : null);
        }

        // The marker: the long-context step with the whole positioned corpus.
        LogEscalated(logger, candidate.Id);
        headers[GatewayHeaders.Escalated] = "true";
        var targets = LongContextTargets(context, plan, longContextModel, candidate.Attention, longContextWorst);
        var fellBack = new List<string>();
        var outcome = ForwardOutcome.Unreachable;
        var used = longContextModel;
        while (targets.Count > 0)
        {
            var (model, attention) = targets[0];
            targets.RemoveAt(0);
            var body = await bodies.BuildAsync(request, plan, RouteKind.LongContext, model, aborted);
            var upstreamHeaders = attention is not null ? new Dictionary<string, string> { [GatewayHeaders.Attention] = attention } : null;
            var last = targets.Count == 0;
            var forwarded = await forwarder.ForwardAsync(context, model, "chat/completions", body, upstreamHeaders, headers, holdBackTooLarge: !last, holdBackFailures: !last);
            if (forwarded.Outcome is ForwardOutcome.RefusedAsTooLarge or ForwardOutcome.Unavailable)
            {
                // The resilience rules' fallback inside the step: the next long-context option the
                // reservation covers; a cluster that is down is down for all of its models.
                fellBack.Add($"{model.Alias}{(attention is null ? "" : ":" + attention)} ({forwarded.Refusal ?? forwarded.Failure})");
                LogFellBack(logger, model.Alias, forwarded.Refusal ?? forwarded.Failure);
                if (forwarded.Outcome == ForwardOutcome.Unavailable)
                {
                    targets.RemoveAll(t => t.Model.Cluster.Name == model.Cluster.Name);
                }

                continue;
            }

            (outcome, used) = (forwarded.Outcome, model);
            break;
        }

        await meter.CompleteAsync(CancellationToken.None);
        var succeeded = outcome == ForwardOutcome.Answered && context.Response.StatusCode is >= 200 and < 300;
        var spent = succeeded || outcome is ForwardOutcome.ClientGone or ForwardOutcome.BrokenMidAnswer;
        decimal? longContextCost = !spent ? null : meter.Usage is { } lcUsage ? Cost(used.Alias, lcUsage) : longContextWorst;
        var status = succeeded ? LongContext.Ledger.Decisions.DecisionStatuses.Completed
            : spent ? LongContext.Ledger.Decisions.DecisionStatuses.Cancelled
            : LongContext.Ledger.Decisions.DecisionStatuses.Failed;
        var fallbackNote = fellBack.Count == 0 ? null : $"the long-context step fell back from {string.Join(", then ", fellBack)}{(spent ? " to " + used.Alias : "")}";
        var note = succeeded ? fallbackNote : spent
            ? Join(fallbackNote, "the long-context step was cut short; what it used was committed")
            : Join(fallbackNote, $"the long-context step's upstream {(outcome == ForwardOutcome.Answered ? "answered HTTP " + context.Response.StatusCode : "was unreachable")}; only the RAG step was paid");
        return new(status, ragCost + (longContextCost ?? 0), meter.Usage, true, ragCost, longContextCost, note);
    }

    private static string Join(string? first, string second) => first is null ? second : $"{first}; {second}";

    /// <summary>
    /// Where the long-context step may go, in order: the escalation model the decision chose, then
    /// the decision's other long-context options — feasible on their own, or as the escalation of a
    /// feasible hybrid candidate with the same RAG step — whose worst case fits in the part of the
    /// reservation held for the step (so a fallback never spends more than was reserved), best
    /// expected recall first, then cheapest.
    /// </summary>
    private List<(ResolvedModel Model, string? Attention)> LongContextTargets(HttpContext context, RoutePlan plan, ResolvedModel escalation, string? attention, decimal reserved)
    {
        var tenant = context.GetTenant();
        var chosen = plan.Decision.Chosen!;
        var viaHybrid = plan.Decision.Candidates
            .Where(v => v.Feasible && v.Candidate.Route == RouteKind.Hybrid && v.Candidate.Model == chosen.Model)
            .Select(v => (v.Candidate.EscalationModel, v.Candidate.Attention))
            .ToHashSet();
        var targets = new List<(ResolvedModel Model, string? Attention)> { (escalation, attention) };
        foreach (var other in plan.Decision.Candidates
            .Where(v => v.Candidate.Route == RouteKind.LongContext && v.Candidate.WorstCaseCostUsd <= reserved
                && (v.Feasible || viaHybrid.Contains((v.Candidate.Model, v.Candidate.Attention))))
            .Select(v => v.Candidate)
            .OrderByDescending(c => c.ExpectedRecall)
            .ThenBy(c => c.ExpectedCostUsd))
        {
            if ((other.Model != escalation.Alias || other.Attention != attention) && models.Find(tenant, other.Model) is { } model)
            {
                targets.Add((model, other.Attention));
            }
        }

        return targets;
    }

    private enum RagVerdict
    {
        Answered,
        Marker,
        Failed,
        ClientGone,
    }

    private sealed record RagResult(RagVerdict Verdict, UpstreamUsage? Usage, string? Failure = null);

    private async Task<RagResult> CompleteRagAsync(HttpContext context, IChatCompletionService chat, ChatHistory history, OpenAIPromptExecutionSettings settings, Kernel kernel, Dictionary<string, string> headers, CancellationToken cancellationToken)
    {
        ChatMessageContent reply;
        try
        {
            reply = await chat.GetChatMessageContentAsync(history, settings, kernel, cancellationToken);
        }
        catch (Exception e) when (Failure(context, e) is { } failure)
        {
            return await FailAsync(context, headers, failure);
        }

        var usage = Usage(reply.Metadata);
        var text = reply.Content ?? "";
        if (MarkerGate.Judge(text, prompt.Marker, complete: true) == MarkerVerdict.Marker)
        {
            return new(RagVerdict.Marker, usage);
        }

        headers[GatewayHeaders.Escalated] = "false";
        GatewayHeaders.Apply(context.Response, headers);
        context.Response.ContentType = "application/json";
        var answer = new JsonObject
        {
            ["id"] = Id(),
            ["object"] = "chat.completion",
            ["created"] = time.GetUtcNow().ToUnixTimeSeconds(),
            ["model"] = reply.ModelId ?? "",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
                ["finish_reason"] = FinishReason(reply.Metadata) ?? "stop",
            }),
        };
        if (usage is not null)
        {
            answer["usage"] = UsageJson(usage);
        }

        await WriteJsonAsync(context.Response.Body, answer, CancellationToken.None);
        return new(RagVerdict.Answered, usage);
    }

    private async Task<RagResult> StreamRagAsync(HttpContext context, ChatCompletionRequest request, IChatCompletionService chat, ChatHistory history, OpenAIPromptExecutionSettings settings, Kernel kernel, Dictionary<string, string> headers, CancellationTokenSource silence, TimeSpan activityTimeout)
    {
        var gate = new MarkerGate(prompt.Marker);
        var (id, created, started) = (Id(), time.GetUtcNow().ToUnixTimeSeconds(), false);
        string? model = null;
        string? finish = null;
        UpstreamUsage? usage = null;
        var body = context.Response.Body;

        async Task StartAsync(string firstText)
        {
            // The answer is an answer: the stream begins, with everything held back so far.
            headers[GatewayHeaders.Escalated] = "false";
            GatewayHeaders.Apply(context.Response, headers);
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            started = true;
            await WriteEventAsync(body, Chunk(id, created, model, new JsonObject { ["role"] = "assistant", ["content"] = firstText }, null), CancellationToken.None);
        }

        try
        {
            await foreach (var update in chat.GetStreamingChatMessageContentsAsync(history, settings, kernel, silence.Token))
            {
                silence.CancelAfter(activityTimeout);
                model ??= update.ModelId;
                usage = Usage(update.Metadata) ?? usage;
                finish = FinishReason(update.Metadata) ?? finish;
                if (update.Content is not { Length: > 0 } delta)
                {
                    continue;
                }

                var wasUndecided = gate.Verdict == MarkerVerdict.Undecided;
                if (gate.Add(delta) != MarkerVerdict.Answer)
                {
                    continue;
                }

                if (wasUndecided)
                {
                    await StartAsync(gate.Text);
                }
                else
                {
                    await WriteEventAsync(body, Chunk(id, created, model, new JsonObject { ["content"] = delta }, null), CancellationToken.None);
                }
            }
        }
        catch (Exception e) when (Failure(context, e) is { } failure)
        {
            if (started)
            {
                // Part of the answer is with the client: the honest signal left is an aborted stream.
                context.Abort();
                return new(context.RequestAborted.IsCancellationRequested ? RagVerdict.ClientGone : RagVerdict.Failed, usage, failure.Reason);
            }

            return await FailAsync(context, headers, failure);
        }

        if (gate.Complete() == MarkerVerdict.Marker)
        {
            return new(RagVerdict.Marker, usage);
        }

        if (!started)
        {
            await StartAsync(gate.Text);
        }

        await WriteEventAsync(body, Chunk(id, created, model, [], finish ?? "stop"), CancellationToken.None);
        if (request.IncludeUsage && usage is not null)
        {
            await WriteEventAsync(body, new JsonObject { ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = created, ["model"] = model ?? "", ["choices"] = new JsonArray(), ["usage"] = UsageJson(usage) }, CancellationToken.None);
        }

        await body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), CancellationToken.None);
        await body.FlushAsync(CancellationToken.None);
        return new(RagVerdict.Answered, usage);
    }

    private sealed record RagFailure(RagVerdict Verdict, string Reason, OpenAiErrorResult? Error);

    /// <summary>Why the RAG step's call ended early, or null for an exception that is not the upstream's or the client's doing.</summary>
    private static RagFailure? Failure(HttpContext context, Exception e) => e switch
    {
        OperationCanceledException when context.RequestAborted.IsCancellationRequested => new(RagVerdict.ClientGone, "the client went away", null),
        OperationCanceledException => new(RagVerdict.Failed, "its upstream went silent", null),
        HttpOperationException { StatusCode: { } code } http => new(RagVerdict.Failed, $"its upstream answered HTTP {(int)code}: {http.Message}", null),
        HttpOperationException http => new(RagVerdict.Failed, $"its upstream could not be reached: {http.Message}", null),
        _ => null,
    };

    private static async Task<RagResult> FailAsync(HttpContext context, Dictionary<string, string> headers, RagFailure failure)
    {
        if (failure.Verdict == RagVerdict.ClientGone)
        {
            return new(RagVerdict.ClientGone, null, failure.Reason);
        }

        GatewayHeaders.Apply(context.Response, headers);
        await new OpenAiErrorResult(StatusCodes.Status502BadGateway, new($"The hybrid route's RAG step failed: {failure.Reason}.", "upstream_error", null, "upstream_unavailable")).ExecuteAsync(context);
        return new(RagVerdict.Failed, null, failure.Reason);
    }

    /// <summary>The self-route instruction with the chunks as the first system message, then the client's conversation.</summary>
    private static ChatHistory History(string instruction, ChatCompletionRequest request)
    {
        var history = new ChatHistory();
        history.AddSystemMessage(instruction);
        foreach (var (role, text) in request.Conversation())
        {
            history.AddMessage(role switch { "user" => AuthorRole.User, "assistant" => AuthorRole.Assistant, _ => AuthorRole.System }, text);
        }

        return history;
    }

    private OpenAIPromptExecutionSettings ExecutionSettings(ChatCompletionRequest request, ResolvedModel model)
    {
        var body = request.Body;
        return new OpenAIPromptExecutionSettings
        {
            ModelId = model.UpstreamModel,
            MaxTokens = (int)Math.Min(bodies.OutputCap(request), int.MaxValue),
            Temperature = Number(body, "temperature"),
            TopP = Number(body, "top_p"),
            PresencePenalty = Number(body, "presence_penalty"),
            FrequencyPenalty = Number(body, "frequency_penalty"),
            Seed = body["seed"] is JsonValue seed && seed.TryGetValue<long>(out var s) ? s : null,
            User = body["user"] is JsonValue user && user.TryGetValue<string>(out var u) ? u : null,
            StopSequences = body["stop"] switch
            {
                JsonValue one when one.TryGetValue<string>(out var stop) => [stop],
                JsonArray many => [.. many.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var stop) ? stop : null).OfType<string>()],
                _ => null,
            },
        };
    }

    private static double? Number(JsonObject body, string name) =>
        body[name] is JsonValue value && value.TryGetValue<double>(out var number) ? number : null;

    private decimal Cost(string model, UpstreamUsage usage) =>
        routing.Profiles[model].Prices.Cost(usage.PromptTokens, usage.CachedPromptTokens, usage.CompletionTokens);

    private static UpstreamUsage? Usage(IReadOnlyDictionary<string, object?>? metadata) =>
        metadata?.TryGetValue("Usage", out var value) == true && value is OpenAI.Chat.ChatTokenUsage usage
            ? new UpstreamUsage(usage.InputTokenCount, usage.InputTokenDetails?.CachedTokenCount ?? 0, usage.OutputTokenCount)
            : null;

    private static string? FinishReason(IReadOnlyDictionary<string, object?>? metadata) =>
        metadata?.TryGetValue("FinishReason", out var value) == true && value is OpenAI.Chat.ChatFinishReason reason
            ? reason switch
            {
                OpenAI.Chat.ChatFinishReason.Length => "length",
                OpenAI.Chat.ChatFinishReason.ContentFilter => "content_filter",
                _ => "stop",
            }
            : null;

    private static JsonObject UsageJson(UpstreamUsage usage) => new()
    {
        ["prompt_tokens"] = usage.PromptTokens,
        ["completion_tokens"] = usage.CompletionTokens,
        ["total_tokens"] = usage.PromptTokens + usage.CompletionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.CachedPromptTokens },
    };

    private static JsonObject Chunk(string id, long created, string? model, JsonObject delta, string? finishReason) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = model ?? "",
        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
    };

    private static string Id() => "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];

    private static async Task WriteJsonAsync(Stream stream, JsonObject value, CancellationToken cancellationToken)
    {
        await using (var writer = new Utf8JsonWriter(stream))
        {
            value.WriteTo(writer);
        }

        await stream.FlushAsync(cancellationToken);
    }

    private static async Task WriteEventAsync(Stream stream, JsonObject value, CancellationToken cancellationToken)
    {
        await stream.WriteAsync("data: "u8.ToArray(), cancellationToken);
        await using (var writer = new Utf8JsonWriter(stream))
        {
            value.WriteTo(writer);
        }

        await stream.WriteAsync("\n\n"u8.ToArray(), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Hybrid {Candidate}: the chunks could not answer; escalating to long context")]
    private static partial void LogEscalated(ILogger logger, string candidate);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hybrid long-context step: {Model} could not take it ({Reason}); trying the next long-context option")]
    private static partial void LogFellBack(ILogger logger, string model, string? reason);
}
