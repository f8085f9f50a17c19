package dev.nann.operators;

import dev.nann.engine.ChangeOutcome;
import dev.nann.engine.DescriptorGuard;
import dev.nann.engine.EngineConfig;
import dev.nann.engine.ModelVersions;
import dev.nann.engine.RequestProtocol;
import dev.nann.engine.RetrievalEngine;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import dev.nann.schemas.internal.DescriptorUpdate;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.schemas.internal.ServingInput;
import dev.nann.schemas.internal.UserProfile;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReadOnlyBroadcastState;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.co.KeyedBroadcastProcessFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keyed by user id: keeps each user's behaviour sequence (capped at L) in keyed state, and turns
 * requests into {@link ScoringTask}s enriched with that sequence and stamped with the index and
 * model versions from broadcast state. A user event flagged as a trigger becomes a feed task.
 * Requests that cannot be served (invalid, or no index yet) are answered at once: their task
 * carries the answer ({@link ScoringTask#getAnswer}) and the retrieval operator passes it on
 * untouched, so every answer reaches the router on one path and the operators chain. Descriptors
 * only move forward: an index version not newer than the current one is ignored.
 */
public final class UserStateFunction
    extends KeyedBroadcastProcessFunction<Long, ServingInput, DescriptorUpdate, ScoringTask>
    implements CheckpointedFunction {
  private static final Logger LOG = LoggerFactory.getLogger(UserStateFunction.class);

  /** Broadcast state: "index" and "model" to their current descriptors. */
  public static final MapStateDescriptor<String, DescriptorUpdate> DESCRIPTORS =
      new MapStateDescriptor<>("descriptors", Types.STRING, new AvroTypeInfo<>(DescriptorUpdate.class));

  /**
   * Broadcast state: catalog changes (item id to its latest upsert or delete) not yet known to be in
   * a live snapshot; checkpointed, so the engine's fresh set is rebuilt after a restart. Values are
   * {@link ChangeLog} bytes (update time, then the Avro record), not records: a checkpoint's synchronous
   * phase copies the whole map on the task thread, and byte arrays copy ~50x faster than deep
   * copies of records with boxed float lists (measured at 1k upserts/s: the deep copy stalled requests).
   */
  public static final MapStateDescriptor<Long, byte[]> CHANGES =
      new MapStateDescriptor<>("catalog-changes-bin", Types.LONG,
          org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

  private static final String INDEX = "index";
  /** A sharded index: the version that becomes current once its activation delay has passed. */
  private static final String INDEX_NEXT = "index-next";
  private static final String MODEL = "model";
  /**
   * The models current before {@link #MODEL}, newest first as "model-1", "model-2", ...: the engine
   * accepts or refuses a model on its own, after it became current here, so after a restart it
   * retries them in turn (a refused newest one must not hand serving back to the configured default).
   */
  private static final String MODEL_BEFORE = "model-";
  static final int MODELS_REMEMBERED = 3;

  private final EngineConfig engineConfig;
  private final int maxSequence;
  private final FeedPolicy feed;
  private final long stateTtlMillis;
  private transient ValueState<UserProfile> profile;
  private transient RetrievalEngine engine;
  private transient ChangeLog changeLog;
  /** The engine's fresh-set rebase count when the change log was last pruned against it. */
  private transient long prunedAtRebase;
  private transient DescriptorGuard guard;
  private transient Counter refusedDescriptors;
  private transient Counter feedThrottled;
  private transient Counter feedStale;
  private transient long noIndexTriggers;
  private transient long freshRefused;
  /** When the element being processed arrived here (the breakdown's "keyby" ends, "state" starts). */
  private transient long stateInMicros;
  /**
   * When this subtask first saw each pending sharded version; a version's activation delay counts
   * from here (after a restore, from its first use: the shards load again then too).
   */
  private transient Map<Long, Long> nextSeenAt;
  private transient boolean layoutWarned;
  /** After a restore: the checkpointed descriptors and changes, for {@link #open} to load before any request. */
  private transient BroadcastState<String, DescriptorUpdate> restoredDescriptors;
  private transient BroadcastState<Long, byte[]> restoredChanges;

  /**
   * @param engineConfig the engine to prefetch new index versions into (shared with the async operator)
   * @param maxSequence L, the behaviour sequence cap
   * @param feed what trigger events may push to the candidate feed
   * @param stateTtlMillis a user's state expires this long after their last event (0: never)
   */
  public UserStateFunction(EngineConfig engineConfig, int maxSequence, FeedPolicy feed, long stateTtlMillis) {
    this.engineConfig = engineConfig;
    this.maxSequence = maxSequence;
    this.feed = feed;
    this.stateTtlMillis = stateTtlMillis;
  }

  @Override
  public void open(OpenContext ctx) throws Exception {
    ValueStateDescriptor<UserProfile> desc = new ValueStateDescriptor<>("profile", new AvroTypeInfo<>(UserProfile.class));
    if (stateTtlMillis > 0) {
      // users who stop coming back do not keep state forever; RocksDB drops them while compacting
      desc.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofMillis(stateTtlMillis)).updateTtlOnCreateAndWrite()
          .neverReturnExpired().cleanupInRocksdbCompactFilter(1000).build());
    }
    profile = getRuntimeContext().getState(desc);
    engine = OperatorEngines.acquire(getRuntimeContext(), engineConfig);
    guard = engineConfig.guard();
    org.apache.flink.metrics.MetricGroup metrics = getRuntimeContext().getMetricGroup().addGroup("nann");
    refusedDescriptors = metrics.counter("refusedDescriptors");
    feedThrottled = metrics.counter("feedThrottled");
    feedStale = metrics.counter("feedStale");
    changeLog = new ChangeLog();
    prunedAtRebase = -1;   // prune once the first broadcast element comes (a restored log may hold what the index does)
    metrics.gauge("catalogChangesKept", changeLog::size);
    nextSeenAt = new HashMap<>();
    if (restoredDescriptors != null) {
      // a restart left the engine's fresh set empty, no model descriptor known and no index loaded
      changeLog.refill(engine, restoredChanges.immutableEntries());
      readmitModels();
      prefetchRestoredIndex();
    }
  }

  @Override
  public void initializeState(FunctionInitializationContext ctx) throws Exception {
    if (ctx.isRestored()) {
      restoredDescriptors = ctx.getOperatorStateStore().getBroadcastState(DESCRIPTORS);
      restoredChanges = ctx.getOperatorStateStore().getBroadcastState(CHANGES);
    }
  }

  @Override
  public void snapshotState(FunctionSnapshotContext ctx) {
    // the broadcast state is the operator's; nothing of this function's own to write
  }

  /**
   * Starts loading the restored index versions (current and pending) in the background: otherwise the
   * first request after a restore maps and verifies every file of them while requests queue behind it.
   */
  private void prefetchRestoredIndex() throws Exception {
    for (String key : List.of(INDEX, INDEX_NEXT)) {
      DescriptorUpdate d = restoredDescriptors.get(key);
      if (d == null || !guard.hasLayout(d.getIndex())) {
        continue;   // a version published for another number of shards is not served (see currentIndex)
      }
      if (engineConfig.sharded()) {
        engine.prefetchSharded(d.getIndex());
      } else {
        engine.prefetch(d.getIndex());
      }
    }
  }

  @Override
  public void close() {
    if (engine != null) {
      RetrievalEngine.release(engine);
      engine = null;
    }
  }

  /** After a restore: the engine admits the models served before it, newest first. */
  private void readmitModels() throws Exception {
    List<ModelDescriptor> served = new ArrayList<>();
    for (int i = 0; i <= MODELS_REMEMBERED; i++) {
      DescriptorUpdate d = restoredDescriptors.get(i == 0 ? MODEL : MODEL_BEFORE + i);
      if (d != null) {
        served.add(d.getModel());
      }
    }
    if (!served.isEmpty()) {
      engine.restoreModels(served);
    }
  }

  @Override
  public void processElement(ServingInput in, ReadOnlyContext ctx, Collector<ScoringTask> out) throws Exception {
    ReadOnlyBroadcastState<String, DescriptorUpdate> descriptors = ctx.getBroadcastState(DESCRIPTORS);
    stateInMicros = RequestProtocol.nowMicros();
    if (in.getEvent() != null) {
      onEvent(in, in.getEvent(), descriptors, out);
    } else if (in.getRequest() != null) {
      onRequest(in, in.getRequest(), descriptors, out);
    }
  }

  private void onEvent(ServingInput in, UserEvent e, ReadOnlyBroadcastState<String, DescriptorUpdate> descriptors,
                       Collector<ScoringTask> out) throws Exception {
    UserProfile p = profile.value();
    if (p == null) {
      p = new UserProfile(new ArrayList<>(), 0L, 0L, 0L);
    }
    List<Long> seq = new ArrayList<>(p.getSequence());
    seq.add(e.getItemId());
    if (seq.size() > maxSequence) {
      seq = new ArrayList<>(seq.subList(seq.size() - maxSequence, seq.size()));
    }
    p.setSequence(seq);
    p.setEvents(p.getEvents() + 1);
    p.setLastEventMillis(Math.max(p.getLastEventMillis(), e.getTimestampMillis()));
    FeedPolicy.Skip skip = null;
    long at = 0;   // a trigger's time (its record's timestamp)
    DescriptorUpdate index = null;
    if (e.getTrigger()) {
      long now = System.currentTimeMillis();
      at = FeedPolicy.triggerTime(now, in.getReceivedAtMillis());
      index = currentIndex(descriptors);
      skip = feed.judge(now, at, p.getLastTriggerMillis());
    }
    if (!e.getTrigger() || skip != null) {
      profile.update(p);
      if (skip != null) {
        (skip == FeedPolicy.Skip.STALE ? feedStale : feedThrottled).inc();
      }
      return;
    }
    RetrievalRequest r = new RetrievalRequest();
    r.setRequestId(FeedRequestIds.of(e.getUserId(), e.getTimestampMillis(), p.getEvents()));
    r.setUserId(e.getUserId());
    r.setK(feed.k());
    r.setMode("nann");
    r.setExcludeItems(List.of());
    r.setExcludeSeen(true);
    r.setAttributeFilter(Map.of());
    r.setDeadlineMillis(feed.deadline(at));
    r.setCreatedAtMillis(e.getTimestampMillis());
    if (index == null) {
      if (noIndexTriggers++ % 1000 == 0) {   // a backlog before the first snapshot would log each one
        LOG.warn("trigger event of user {} dropped from the feed: no index yet ({} here so far; feedDropped counts them)",
            e.getUserId(), noIndexTriggers);
      }
      profile.update(p);   // a trigger answered NO_INDEX leaves the user's interval alone
      out.collect(answered(in, r, RequestProtocol.error(r, ResponseStatus.NO_INDEX, "no index snapshot has been published yet"), true));
      return;
    }
    ScoringTask t;
    try {
      t = task(in, r, seq, descriptors, descriptors.get(MODEL), true);
      p.setLastTriggerMillis(at);
    } catch (dev.nann.graph.SnapshotException unusable) {
      t = answered(in, r, RequestProtocol.error(r, ResponseStatus.NO_INDEX, "no index version can be served"), true);
    }
    profile.update(p);
    out.collect(t);
  }

  private void onRequest(ServingInput in, RetrievalRequest r, ReadOnlyBroadcastState<String, DescriptorUpdate> descriptors,
                         Collector<ScoringTask> out) throws Exception {
    String invalid = RequestProtocol.validate(r, engineConfig);
    if (invalid != null) {
      out.collect(answered(in, r, RequestProtocol.error(r, ResponseStatus.INVALID, invalid), false));
      return;
    }
    DescriptorUpdate index = currentIndex(descriptors);
    if (index == null) {
      out.collect(answered(in, r, RequestProtocol.error(r, ResponseStatus.NO_INDEX,
          "no index snapshot has been published yet"), false));
      return;
    }
    UserProfile p = profile.value();
    List<Long> seq = p == null ? List.of() : p.getSequence();
    try {
      out.collect(task(in, r, seq, descriptors, descriptors.get(MODEL), false));
    } catch (dev.nann.graph.SnapshotException unusable) {
      // the only sharded version there is has a shard that does not verify (logged by the engine)
      out.collect(answered(in, r, RequestProtocol.error(r, ResponseStatus.NO_INDEX, "no index version can be served"), false));
    }
  }

  private ScoringTask task(ServingInput in, RetrievalRequest r, List<Long> seq,
                           ReadOnlyBroadcastState<String, DescriptorUpdate> descriptors, DescriptorUpdate model,
                           boolean feed) throws Exception {
    ScoringTask t = new ScoringTask();
    t.setRequest(r);
    t.setSequence(seq);
    IndexDescriptor current = descriptors.get(INDEX).getIndex();
    if (engineConfig.sharded()) {
      // every copy of this task uses the version stamped here; a newer one only once its shards had
      // time to load (the shards prefetch it from the task's "next")
      DescriptorUpdate pending = descriptors.get(INDEX_NEXT);
      IndexDescriptor next = pending == null || !guard.hasLayout(pending.getIndex()) ? null : pending.getIndex();
      if (next != null && next.getVersion() > current.getVersion()) {
        if (!delayPassed(next)) {
          t.setNext(next);
        } else if (engine.shardedRefusal(next) == null) {
          current = next;
        }
      }
      t.setFeatures(engine.behaviourFeatures(current, seq));
    }
    t.setIndex(current);
    t.setModel(model == null ? null : model.getModel());
    t.setFeed(feed);
    t.setShard(-1);
    t.setTaskId("");
    t.setHeaders(in.getHeaders());
    t.setReceivedAtMillis(in.getReceivedAtMillis());
    Map<String, Long> stamps = new HashMap<>(4);
    stamps.put("decoded", in.getDecodedAtMicros());
    stamps.put("stateIn", stateInMicros);
    stamps.put("stateOut", RequestProtocol.nowMicros());
    t.setStamps(stamps);
    return t;
  }

  /** {@code request}'s task answered here, without the engine: it carries {@code answer} to the router. */
  static ScoringTask answered(ServingInput in, RetrievalRequest request, RetrievalResponse answer, boolean feed) {
    // when it was read: the router's latency does not trust a timestamp after it (or long before it)
    Map<String, Long> stamps = new HashMap<>();
    stamps.put("decoded", in.getDecodedAtMicros());
    return ScoringTask.newBuilder().setRequest(request).setAnswer(answer).setFeed(feed).setHeaders(in.getHeaders())
        .setReceivedAtMillis(in.getReceivedAtMillis()).setStamps(stamps).build();   // the rest at their defaults
  }

  @Override
  public void processBroadcastElement(DescriptorUpdate u, Context ctx, Collector<ScoringTask> out) throws Exception {
    BroadcastState<String, DescriptorUpdate> state = ctx.getBroadcastState(DESCRIPTORS);
    BroadcastState<Long, byte[]> changes = ctx.getBroadcastState(CHANGES);
    long rebases = engine.freshRebases();
    if (rebases != prunedAtRebase) {   // an index went live (after a restore too): it holds some changes
      prunedAtRebase = rebases;
      dropChangesTheSetLetGo(changes);
    }
    if (u.getItem() != null) {
      long id = u.getItem().getItemId();
      ChangeOutcome outcome = engine.applyChange(u.getItem());
      changeLog.record(changes, u.getItem(), outcome, outcome == ChangeOutcome.REFUSED && engine.holdsFreshChange(id));
      if (outcome.accepted()) {
        return;
      }
      if (freshRefused++ % 1000 == 0) {
        // the engine logs a change of another dimension itself; otherwise the set is full
        LOG.warn("a catalog change was refused ({} here so far): the fresh set is full ({} changes, fresh.max-items) "
            + "or the change is of another dimension than the live index; it waits for the next snapshot. A full "
            + "set means index-sync is not keeping up with the upsert rate", freshRefused, engineConfig.freshMaxItems());
      }
      return;
    }
    if (u.getIndex() != null) {
      IndexDescriptor d = u.getIndex();
      DescriptorUpdate current = currentIndex(state);
      DescriptorUpdate pending = state.get(INDEX_NEXT);
      if (pending != null && !guard.hasLayout(pending.getIndex())) {
        state.remove(INDEX_NEXT);
        pending = null;
      }
      if (engineConfig.sharded() && current != null && pending != null) {
        current = promoteIfActive(state, current, pending);
        pending = state.get(INDEX_NEXT);   // gone if it was promoted or refused
      }
      if (pending != null && pending.getIndex().getVersion() >= d.getVersion()) {
        LOG.info("index version {} ignored: version {} is next (versions only move forward)", d.getVersion(),
            pending.getIndex().getVersion());
        return;
      }
      if (current != null && current.getIndex().getVersion() >= d.getVersion()) {
        LOG.info("index version {} ignored: version {} is current (versions only move forward)", d.getVersion(),
            current.getIndex().getVersion());
        return;
      }
      String refusal = guard.refuseIndex(d, current == null ? -1 : current.getIndex().getVersion());
      if (refusal != null) {
        refuse(refusal);
        return;
      }
      if (engineConfig.sharded()) {
        // the first version is current at once; a later one after its activation delay
        DescriptorUpdate replaced = state.get(INDEX_NEXT);
        state.put(current == null ? INDEX : INDEX_NEXT, new DescriptorUpdate(d, null, null, null));
        // a version replacing a pending one keeps its clock: versions published faster than the
        // activation delay still move forward
        Long clock = replaced == null ? null : nextSeenAt.remove(replaced.getIndex().getVersion());
        nextSeenAt.put(d.getVersion(), clock != null ? clock : System.currentTimeMillis());
        engine.prefetchSharded(d);
      } else {
        state.put(INDEX, new DescriptorUpdate(d, null, null, null));
        engine.prefetch(d);
      }
    }
    if (u.getModel() != null) {
      ModelDescriptor d = u.getModel();
      DescriptorUpdate current = state.get(MODEL);
      if (current != null && ModelVersions.compare(current.getModel().getVersion(), d.getVersion()) >= 0) {
        LOG.info("model {} ignored: model {} is current (versions only move forward)", d.getVersion(),
            current.getModel().getVersion());
        return;
      }
      String refusal = guard.refuseModel(d);
      if (refusal != null) {
        refuse(refusal);
        return;
      }
      for (int i = MODELS_REMEMBERED; i >= 1; i--) {
        DescriptorUpdate before = state.get(i == 1 ? MODEL : MODEL_BEFORE + (i - 1));
        if (before != null) {
          state.put(MODEL_BEFORE + i, before);
        }
      }
      state.put(MODEL, new DescriptorUpdate(null, d, null, null));
      engine.prefetch(d);
    }
  }

  /**
   * The current index descriptor, or null when there is none or it was published for another number
   * of shards (state restored from before a reshard): the job then waits for a version it can serve.
   */
  private DescriptorUpdate currentIndex(ReadOnlyBroadcastState<String, DescriptorUpdate> state) throws Exception {
    DescriptorUpdate d = state.get(INDEX);
    if (d != null && !guard.hasLayout(d.getIndex())) {
      if (!layoutWarned) {
        layoutWarned = true;
        LOG.warn("index version {} in restored state has {} shards and this job serves {} (index.shards): it is not "
            + "served; waiting for a version published with index.shards = {}", d.getIndex().getVersion(),
            d.getIndex().getShards().size(), engineConfig.shards(), engineConfig.shards());
      }
      return null;
    }
    return d;
  }

  /** The pending sharded version becomes current in state once its activation delay has passed here. */
  private DescriptorUpdate promoteIfActive(BroadcastState<String, DescriptorUpdate> state, DescriptorUpdate current,
                                           DescriptorUpdate pending) throws Exception {
    long version = pending.getIndex().getVersion();
    if (version <= current.getIndex().getVersion() || !delayPassed(pending.getIndex())) {
      return current;
    }
    if (engine.shardedRefusal(pending.getIndex()) != null) {   // a shard that does not verify: never current
      state.remove(INDEX_NEXT);
      nextSeenAt.remove(version);
      refusedDescriptors.inc();
      return current;
    }
    state.put(INDEX, pending);
    state.remove(INDEX_NEXT);
    nextSeenAt.remove(version);
    return pending;
  }

  /** Whether a pending sharded version's activation delay has passed on this subtask. */
  private boolean delayPassed(IndexDescriptor pending) {
    long seenAt = nextSeenAt.computeIfAbsent(pending.getVersion(), v -> System.currentTimeMillis());
    return System.currentTimeMillis() - seenAt >= engineConfig.shardActivationMs();
  }

  /**
   * Bounds the checkpointed change log: a change leaves it once the fresh set let it go (a live
   * snapshot holds it), never by its age (a snapshot built slowly, or by an index-sync behind on the
   * topic, may miss changes older than itself).
   */
  private void dropChangesTheSetLetGo(BroadcastState<Long, byte[]> changes) throws Exception {
    List<Long> held = new ArrayList<>();
    for (Map.Entry<Long, byte[]> e : changes.entries()) {
      if (!engine.holdsFreshChange(e.getKey())) {
        held.add(e.getKey());
      }
    }
    for (Long id : held) {
      changeLog.drop(changes, id);
    }
  }

  /** A descriptor that must not become current: logged and counted; the current one keeps serving. */
  private void refuse(String why) {
    refusedDescriptors.inc();
    LOG.error("descriptor refused, the current version keeps serving: {}", why);
  }
}
