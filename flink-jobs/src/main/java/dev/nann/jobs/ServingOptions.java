package dev.nann.jobs;

import static org.apache.flink.configuration.ConfigOptions.key;

import dev.nann.engine.EngineConfig;
import dev.nann.search.SearchParams;
import dev.nann.search.WalkParams;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;

/**
 * Every setting of the serving job, declared once: key, type, default and description. The
 * configuration reference (docs/configuration.md) is generated from these declarations; engine
 * defaults come from {@link EngineConfig} and the search parameter records.
 */
public final class ServingOptions {
  private ServingOptions() {}

  public static final ConfigOption<String> BOOTSTRAP_SERVERS = CommonOptions.BOOTSTRAP_SERVERS;
  public static final ConfigOption<String> GROUP_ID = key("kafka.group-id").stringType().defaultValue("nann-serving")
      .withDescription("Consumer group of the sources (offsets also live in checkpoints).");
  public static final ConfigOption<String> STARTING_OFFSETS = key("kafka.starting-offsets").stringType()
      .defaultValue("committed").withDescription("Where requests and user events start: committed (earliest if none), "
          + "earliest or latest.");
  public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX = key("kafka.transactional-id-prefix").stringType()
      .defaultValue("nann-serving").withDescription("Prefix of the sinks' transactional ids; keep it stable across restarts.");
  public static final ConfigOption<Integer> TRANSACTION_TIMEOUT_MS = CommonOptions.TRANSACTION_TIMEOUT_MS;
  public static final ConfigOption<Double> MAX_ABS_VALUE = CommonOptions.MAX_ABS_VALUE;
  public static final ConfigOption<Integer> SHARDS = CommonOptions.SHARDS;
  public static final ConfigOption<Map<String, String>> KAFKA_PROPERTIES = CommonOptions.KAFKA_PROPERTIES;
  public static final ConfigOption<String> DELIVERY = key("kafka.delivery").stringType().defaultValue("at-least-once")
      .withDescription("Delivery of responses and dead letters: at-least-once (an answer is visible as soon as it is "
          + "written; after a job restart one may be repeated, with the same request id, which NannClient drops) or "
          + "exactly-once (Kafka transactions: an answer becomes visible when the checkpoint that holds it completes, "
          + "so it waits up to checkpoint.interval-ms).");
  public static final ConfigOption<Integer> RESPONSE_SCHEMA_VERSION = key("kafka.response-schema-version").intType()
      .defaultValue(0).withDescription("Version of the RetrievalResponse schema answers are written in: 0, the current "
          + "one, or an earlier recorded version (1 = as first released; the schemas jar lists them under "
          + "dev/nann/schemas/history/RetrievalResponse), so clients built on it go on reading answers while they are "
          + "upgraded. Fields that version lacks are left out of the answers.");
  public static final ConfigOption<Integer> FEED_SCHEMA_VERSION = key("kafka.feed-schema-version").intType()
      .defaultValue(0).withDescription("Version of the CandidateFeed schema pushes are written in: 0, the current one, "
          + "or an earlier recorded version (1 = before eventSeq; the schemas jar lists them under "
          + "dev/nann/schemas/history/CandidateFeed), so feed consumers built on it go on reading pushes while they are "
          + "upgraded. Fields that version lacks are left out.");
  public static final ConfigOption<String> FEED_DELIVERY = key("kafka.feed-delivery").stringType()
      .defaultValue("exactly-once").withDescription("Delivery of the candidates feed: exactly-once (the default; feed "
          + "consumers see each push once, a checkpoint interval late) or at-least-once.");

  public static final ConfigOption<String> TOPIC_REQUESTS = key("topics.requests").stringType()
      .defaultValue("requests").withDescription("Retrieval requests in.");
  public static final ConfigOption<String> TOPIC_RESPONSES = key("topics.responses").stringType()
      .defaultValue("responses").withDescription("Retrieval responses out, keyed by request id.");
  public static final ConfigOption<String> TOPIC_USER_EVENTS = key("topics.user-events").stringType()
      .defaultValue("user-events").withDescription("User behaviour events in (they update the user's sequence).");
  public static final ConfigOption<String> TOPIC_CANDIDATES = key("topics.candidates").stringType()
      .defaultValue("candidates").withDescription("Candidate feed out, pushed by trigger events.");
  public static final ConfigOption<String> TOPIC_INDEX_UPDATES = CommonOptions.TOPIC_INDEX_UPDATES;
  public static final ConfigOption<String> TOPIC_MODEL_UPDATES = key("topics.model-updates").stringType()
      .defaultValue("model-updates").withDescription("Model descriptors (compacted): each published model.");
  public static final ConfigOption<String> TOPIC_DEAD_LETTER = CommonOptions.TOPIC_DEAD_LETTER;
  public static final ConfigOption<String> TOPIC_ITEM_EMBEDDINGS = CommonOptions.TOPIC_ITEM_EMBEDDINGS;

  public static final ConfigOption<String> MODEL_DIR = key("model.dir").stringType().noDefaultValue()
      .withDescription("Model directory used until a model-updates descriptor names another (see model-contract.md).");
  public static final ConfigOption<String> SNAPSHOT_DIR = key("snapshot.dir").stringType().noDefaultValue()
      .withDescription("The snapshot store index-sync writes to: relative snapshot uris resolve here, and a descriptor "
          + "naming a file outside it (after normalisation and links) is refused.");
  public static final ConfigOption<String> MODEL_ROOT = key("model.root").stringType().noDefaultValue()
      .withDescription("Model directories published on model-updates must lie inside it (default: the directory "
          + "holding model.dir); a descriptor naming one outside is refused.");
  public static final ConfigOption<Long> MAX_VERSION_STEP = key("descriptors.max-version-step").longType()
      .defaultValue(EngineConfig.DEFAULT_MAX_VERSION_STEP).withDescription("An index descriptor whose version is more "
          + "than this above the current one is refused, so one absurd version cannot freeze every later swap.");

  public static final ConfigOption<Integer> WIDTH = key("search.width").intType()
      .defaultValue(WalkParams.DEFAULTS.width()).withDescription("Beam width W of the default walk (mode nann, raised "
          + "to k): wider walks go further and cover more of the exact top-k (see search.md).");
  public static final ConfigOption<Integer> BUDGET = key("search.budget").intType()
      .defaultValue(WalkParams.DEFAULTS.budget()).withDescription("Most items mode nann scores for a request that names "
          + "no budget (the walk stops at convergence or here); mode dr scores at most as many of its paths' items.");
  public static final ConfigOption<String> DESCENT = key("search.descent").stringType()
      .defaultValue(WalkParams.DEFAULTS.descent().id()).withDescription("How mode nann comes down the graph's upper "
          + "layers: wide (many entry points and a beam of W/4, for scorers whose best items lie in several regions), "
          + "narrow (HNSW's single greedy path: fewer items when they lie in one region) or auto (each model's first "
          + "64 requests walk both on half the budget each, and the model keeps the one that pays). ./nann eval "
          + "measures both on a model against exact answers (see search.md).");
  public static final ConfigOption<Integer> MAX_BUDGET = key("search.max-budget").intType()
      .defaultValue(EngineConfig.DEFAULT_MAX_BUDGET).withDescription("Most items a request's own budget may ask for "
          + "(larger asks are cut to it; a budget below k is raised to k).");
  public static final ConfigOption<String> BEAM_EF = key("search.ef").stringType()
      .defaultValue(SearchParams.DEFAULTS.beam().efList()).withDescription("Mode beam (the paper's Beam-retrieval): "
          + "ef per layer, top layer first (ef_0 raised to k when k is larger).");
  public static final ConfigOption<String> BEAM_STEPS = key("search.steps").stringType()
      .defaultValue(SearchParams.DEFAULTS.beam().stepsList()).withDescription("Mode beam: steps T per layer, top first.");
  public static final ConfigOption<Integer> HNSW_EF = key("search.hnsw-ef").intType()
      .defaultValue(SearchParams.DEFAULTS.hnswEf()).withDescription("Layer-0 ef of mode hnsw (HNSW-retrieval).");
  public static final ConfigOption<Integer> MAX_K = key("search.max-k").intType()
      .defaultValue(EngineConfig.DEFAULT_MAX_K).withDescription("Largest k a request may ask for, at most "
          + "10000 (an answer of more items might not fit a Kafka record).");

  public static final ConfigOption<Boolean> ALLOW_BRUTE = key("search.allow-brute").booleanType()
      .defaultValue(EngineConfig.DEFAULT_ALLOW_BRUTE).withDescription("Whether clients may ask for mode brute, a scan "
          + "of the whole catalogue per request (refused INVALID otherwise).");
  public static final ConfigOption<Integer> QUEUE_CAPACITY = key("engine.queue-capacity").intType()
      .defaultValue(EngineConfig.DEFAULT_QUEUE_CAPACITY).withDescription("Requests that may wait for a walker per "
          + "TaskManager; past it a request is answered OVERLOADED at once instead of queueing without end. At least 1, "
          + "and times index.shards at most 16777216.");
  public static final ConfigOption<Integer> FRESH_MAX_ITEMS = key("fresh.max-items").intType()
      .defaultValue(EngineConfig.DEFAULT_FRESH_MAX_ITEMS).withDescription("Catalog changes not yet in a snapshot that "
          + "serving holds at most (every query scores them all); past it upserts wait for the next snapshot, counted "
          + "in the freshRefused metric and logged: index-sync is not keeping up.");
  public static final ConfigOption<Long> SHARD_ACTIVATION_MS = key("index.shard-activation-ms").longType()
      .defaultValue(EngineConfig.DEFAULT_SHARD_ACTIVATION_MS).withDescription("With index.shards > 1: requests use "
          + "a new index version this long after its manifest arrives (the previous version meanwhile), so every "
          + "shard has loaded its part first and the shards of one answer never mix versions. Raise it when a "
          + "shard's snapshot takes longer to load (see the 'index shard ... loaded' log lines); index-sync keeps every "
          + "manifest younger than two minutes, so it is at most 60000.");
  public static final ConfigOption<Integer> WALKER_THREADS = key("engine.walker-threads").intType()
      .defaultValue(EngineConfig.DEFAULT_WALKER_THREADS)
      .withDescription("Engine threads walking graphs per TaskManager (one query each at a time); 0: one per core of "
          + "the TaskManager (on 2 cores, 3 walkers answered 100 req/s at p99 127 ms against 40 ms with 2).");
  public static final ConfigOption<Integer> SCORER_THREADS = key("engine.scorer-threads").intType()
      .defaultValue(EngineConfig.DEFAULT_SCORER_THREADS).withDescription("ONNX Runtime intra-op threads per score call.");
  public static final ConfigOption<String> PROVIDER = key("scorer.provider").stringType()
      .defaultValue(EngineConfig.DEFAULT_PROVIDER).withDescription("cpu; cuda (fails at start if CUDA cannot be used); "
          + "auto (CUDA when the -Pgpu build finds a GPU, else the CPU with one log line).");
  public static final ConfigOption<Integer> DEVICE_ID = key("scorer.device-id").intType()
      .defaultValue(EngineConfig.DEFAULT_DEVICE_ID).withDescription("CUDA device ordinal.");
  public static final ConfigOption<String> DR_DIR = key("dr.dir").stringType().noDefaultValue()
      .withDescription("A Deep Retrieval structure (the trainer's train-dr output) that enables mode dr requests.");
  public static final ConfigOption<Integer> DR_BEAM = key("dr.beam").intType()
      .defaultValue(EngineConfig.DEFAULT_DR_BEAM).withDescription("Beam width B of mode dr.");
  public static final ConfigOption<Boolean> BATCHING = key("batching.enabled").booleanType()
      .defaultValue(EngineConfig.DEFAULT_MICRO_BATCHING).withDescription("Cross-request micro-batching of score calls "
          + "(on two CPU cores it is slower than off; see benchmarks.md).");
  public static final ConfigOption<Integer> BATCH_MAX_ROWS = key("batching.max-rows").intType()
      .defaultValue(EngineConfig.DEFAULT_BATCH_MAX_ROWS).withDescription("Most rows in a merged score call (at least 1; "
          + "a model's own limit caps it).");
  public static final ConfigOption<Integer> BATCH_MAX_WAIT_US = key("batching.max-wait-us").intType()
      .defaultValue(EngineConfig.DEFAULT_BATCH_MAX_WAIT_MICROS).withDescription("Longest a batch waits for company (µs), "
          + "in [0, 1000000].");

  public static final ConfigOption<Integer> ASYNC_CAPACITY = key("async.capacity").intType().defaultValue(64)
      .withDescription("Requests in flight per async retrieval subtask. In [1, 100000].");
  public static final ConfigOption<Integer> ASYNC_TIMEOUT_MS = key("async.timeout-ms").intType().defaultValue(2000)
      .withDescription("After this a request is answered TIMEOUT. In [1, 3600000].");
  public static final ConfigOption<Integer> MAX_SEQUENCE = key("state.max-sequence").intType().defaultValue(50)
      .withDescription("L, behaviour items kept per user in keyed state, in [1, 10000]: every event rewrites the "
          + "user's whole sequence, and every request carries it. Below the model's max_seq_len the model sees less "
          + "history than it was trained on (the job logs a warning).");
  public static final ConfigOption<Long> STATE_TTL_MS = key("state.ttl-ms").longType().defaultValue(30L * 24 * 3600 * 1000)
      .withDescription("A user's behaviour state expires this long after their last event (RocksDB drops it while "
          + "compacting); 0 keeps it forever. It may be turned on or off, or changed, across a restore from a checkpoint "
          + "or savepoint: users' histories carry over.");
  public static final ConfigOption<Integer> FEED_K = key("feed.k").intType().defaultValue(50)
      .withDescription("Items pushed to the candidates topic per trigger event, in [1, search.max-k].");
  public static final ConfigOption<Long> FEED_MIN_INTERVAL_MS = key("feed.min-interval-ms").longType()
      .defaultValue(1000L).withDescription("Least time between two of one user's trigger events taken for the feed, by "
          + "their Kafka record timestamps (a replay after a restore throttles as the first run did): a trigger sooner "
          + "after the user's last taken one joins the behaviour sequence and pushes nothing "
          + "(feedThrottled), so one user sending triggers without pause cannot take the walkers from everyone else. "
          + "0: every trigger is taken.");
  public static final ConfigOption<Long> FEED_MAX_AGE_MS = key("feed.max-age-ms").longType().defaultValue(300_000L)
      .withDescription("Oldest a trigger event may be, by its Kafka record timestamp, to push to the feed: an older "
          + "one (a backlog replayed after downtime) joins the behaviour sequence and pushes nothing (feedStale), and "
          + "a taken trigger whose walk has not started by then is shed before waiting requests (feedDropped). 0: any "
          + "age.");
  public static final ConfigOption<Integer> MAX_RECORD_BYTES = key("serving.max-record-bytes").intType()
      .defaultValue(65_536).withDescription("Larger requests, user events and item-embeddings records (key, value and "
          + "headers) are dead-lettered unread. In [1024, 262144]: an answer carries its request's headers back, and "
          + "with up to search.max-k items it must stay within Kafka's default record size of 1 MB. Keep it at least "
          + "index-sync's catalog.max-record-bytes: an item record index-sync takes and serving refuses is served only "
          + "from the next snapshot, not as a fresh change. Records with more than 64 headers are dead-lettered "
          + "whatever their size.");
  public static final ConfigOption<Integer> CHECKPOINT_INTERVAL_MS = key("checkpoint.interval-ms").intType()
      .defaultValue(5000).withDescription("Checkpoint interval (RocksDB, incremental); with exactly-once delivery, "
          + "answers become visible at this pace. In [10, 3600000]; with an exactly-once sink (the feed's default) "
          + "at most half of kafka.transaction-timeout-ms.");
  public static final ConfigOption<String> CHECKPOINT_DIR = key("checkpoint.dir").stringType()
      .defaultValue("file:///tmp/nann/checkpoints").withDescription("Where checkpoints are written.");
  public static final ConfigOption<Integer> PARALLELISM = key("parallelism").intType().defaultValue(1)
      .withDescription("Default operator parallelism. In [1, 32768].");
  public static final ConfigOption<Integer> BUFFER_TIMEOUT_MS = key("flink.buffer-timeout-ms").intType().defaultValue(0)
      .withDescription("Network buffer flush interval between operators; 0 sends each record at once. Measured at 100 "
          + "req/s: 0 ms cut each of the two network hops from 1.2 ms to 0.1 ms at p50 against 2 ms (Flink's 100 ms "
          + "default would dominate a retrieval's latency).");

  /** Settings that have no default and must be given. */
  static final List<ConfigOption<?>> REQUIRED = List.of(BOOTSTRAP_SERVERS, MODEL_DIR, SNAPSHOT_DIR);
}
