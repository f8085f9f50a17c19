package dev.nann.jobs;

import static dev.nann.jobs.ServingOptions.*;

import dev.nann.operators.AnswerRouter;
import dev.nann.operators.AsyncRetrievalFunction;
import dev.nann.operators.DeadLetterSplit;
import dev.nann.operators.DescriptorDeserializer;
import dev.nann.operators.OutputSerializers;
import dev.nann.operators.ServingInputDeserializer;
import dev.nann.operators.ShardGather;
import dev.nann.operators.ShardScatter;
import dev.nann.operators.UserStateFunction;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.internal.DescriptorUpdate;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.schemas.internal.ServingInput;
import dev.nann.schemas.internal.ServingOutput;
import dev.nann.scorer.ModelSpec;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.BroadcastStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving job: requests and user events from Kafka, keyed by user; behaviour sequences in
 * RocksDB keyed state; index and model descriptors in broadcast state; the async walk on the
 * TaskManager-wide engine; responses, candidate feed and dead letters to Kafka (exactly-once by
 * default). With {@code index.shards} S &gt; 1 the async engine step becomes a scatter-gather
 * ({@code scatterGather}): each task, stamped with a manifest and carrying the user's behaviour
 * embeddings, is copied to the S shards (shard i to retrieval subtask i mod parallelism, so a
 * TaskManager loads only its shards) and the shards' answers are merged by task id in keyed state.
 *
 * <pre>
 * requests + user-events ─► decode ─► keyBy(user) ─► UserStateFunction ─► async engine ─┐
 *                              │                         ▲      └─ answers (INVALID, NO_INDEX) ─┤
 * index/model-updates ─► decode ─► broadcast ────────────┘                               AnswerRouter
 *                              └─► dead letters ◄─ (all undecodable records)          ├► responses
 *                                                                                      └► candidates
 * sharded: UserStateFunction ─► ShardScatter (S copies) ─► async shard walks (subtask i mod p)
 *          ─► keyBy(task id) ─► ShardGather (best k of S, or PARTIAL) ─► AnswerRouter
 * </pre>
 */
public final class ServingJob {
  private static final Logger LOG = LoggerFactory.getLogger(ServingJob.class);

  private ServingJob() {}

  /** Flink settings the job needs: RocksDB with incremental checkpoints in {@code checkpoint.dir}. */
  public static Configuration flinkConfiguration(ServingConfig cfg) {
    Configuration c = FlinkConfigs.rocksDbCheckpointed(cfg.get(CHECKPOINT_DIR), cfg.get(CHECKPOINT_INTERVAL_MS),
        cfg.get(PARALLELISM));
    // records cross network hops (keyBy, union) in buffers flushed at least this often; Flink's
    // 100 ms default would dominate a retrieval's latency
    c.setString("execution.buffer-timeout.interval", cfg.get(BUFFER_TIMEOUT_MS) + " ms");
    return c;
  }

  /** Adds the serving topology to {@code env}. */
  public static void build(StreamExecutionEnvironment env, ServingConfig cfg) {
    String bootstrap = cfg.get(BOOTSTRAP_SERVERS);
    OffsetsInitializer start = switch (cfg.get(STARTING_OFFSETS)) {
      case "earliest" -> OffsetsInitializer.earliest();
      case "latest" -> OffsetsInitializer.latest();
      default -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
    };
    // the user's client properties (security above all) first: nann's own settings below win
    Properties kafkaProperties = KafkaClientProperties.toProperties(cfg.kafkaProperties());
    KafkaSource<ServingInput> inputSource = KafkaSource.<ServingInput>builder()
        .setProperties(kafkaProperties)
        .setBootstrapServers(bootstrap)
        .setTopics(cfg.get(TOPIC_REQUESTS), cfg.get(TOPIC_USER_EVENTS))
        .setGroupId(cfg.get(GROUP_ID))
        .setStartingOffsets(start)
        .setProperty("isolation.level", "read_committed")
        .setProperty("client.id.prefix", cfg.get(GROUP_ID) + "-inputs")
        .setDeserializer(new ServingInputDeserializer(cfg.get(TOPIC_REQUESTS), cfg.get(TOPIC_USER_EVENTS),
            cfg.get(MAX_RECORD_BYTES)))
        .build();
    ModelSpec model = ModelSpec.read(Path.of(cfg.get(MODEL_DIR)));
    if (cfg.get(MAX_SEQUENCE) < model.maxSeqLen()) {
      LOG.warn("state.max-sequence {} keeps fewer behaviour items than model {} takes (max_seq_len {}): it sees less "
          + "history than it was trained on", cfg.get(MAX_SEQUENCE), model.version(), model.maxSeqLen());
    }
    if (cfg.engine().drDir() != null) {   // refused here, not in every TaskManager's start and restart
      dev.nann.dr.PathModel.checkFiles(Path.of(cfg.engine().drDir()));
    }
    // descriptors are compacted and always read from the start: the latest ones are the current state
    KafkaSource<DescriptorUpdate> descriptorSource = KafkaSource.<DescriptorUpdate>builder()
        .setProperties(kafkaProperties)
        .setBootstrapServers(bootstrap)
        .setTopics(cfg.get(TOPIC_INDEX_UPDATES), cfg.get(TOPIC_MODEL_UPDATES), cfg.get(TOPIC_ITEM_EMBEDDINGS))
        .setGroupId(cfg.get(GROUP_ID) + "-descriptors")
        .setStartingOffsets(OffsetsInitializer.earliest())
        // an upstream writer's aborted transaction must not reach the catalogue or the descriptors
        .setProperty("isolation.level", "read_committed")
        .setProperty("client.id.prefix", cfg.get(GROUP_ID) + "-descriptors")
        .setDeserializer(new DescriptorDeserializer(cfg.get(TOPIC_INDEX_UPDATES), cfg.get(TOPIC_MODEL_UPDATES),
            cfg.get(TOPIC_ITEM_EMBEDDINGS), model.itemDim(), cfg.get(MAX_RECORD_BYTES),
            cfg.get(MAX_ABS_VALUE).floatValue()))
        .build();

    SingleOutputStreamOperator<ServingInput> inputs = env
        .fromSource(inputSource, WatermarkStrategy.noWatermarks(), "requests + user-events").uid("source-inputs")
        .process(DeadLetterSplit.inputs()).uid("split-inputs").name("dead-letter split (inputs)");
    SingleOutputStreamOperator<DescriptorUpdate> descriptors = env
        .fromSource(descriptorSource, WatermarkStrategy.noWatermarks(), "descriptors + catalog changes").uid("source-descriptors")
        .setParallelism(1)
        .process(DeadLetterSplit.descriptors()).uid("split-descriptors").name("dead-letter split (descriptors)")
        .setParallelism(1);
    BroadcastStream<DescriptorUpdate> broadcast = descriptors.broadcast(UserStateFunction.DESCRIPTORS,
        UserStateFunction.CHANGES);

    SingleOutputStreamOperator<ScoringTask> tasks = inputs
        .keyBy(ServingJob::userOf, Types.LONG)
        .connect(broadcast)
        .process(new UserStateFunction(cfg.engine(), cfg.get(MAX_SEQUENCE), new dev.nann.operators.FeedPolicy(
                cfg.get(FEED_K), cfg.get(ServingOptions.FEED_MIN_INTERVAL_MS), cfg.get(ServingOptions.FEED_MAX_AGE_MS)),
                cfg.get(STATE_TTL_MS)),
            new AvroTypeInfo<>(ScoringTask.class))
        .uid("user-state").name("user state + enrich");

    DataStream<ServingOutput> retrieved = cfg.engine().sharded() ? scatterGather(tasks, cfg)
        : AsyncDataStream.unorderedWait(tasks, new AsyncRetrievalFunction(cfg.engine()), cfg.get(ASYNC_TIMEOUT_MS),
                TimeUnit.MILLISECONDS, cfg.get(ASYNC_CAPACITY))
            .returns(new AvroTypeInfo<>(ServingOutput.class))
            .uid("retrieval").name("async retrieval");

    // one input (answers decided before the engine pass through the retrieval operator), so the
    // router and the sinks chain onto it: no network hop between the engine and the responses topic
    SingleOutputStreamOperator<ServingOutput> answers = retrieved
        .process(new AnswerRouter(), new AvroTypeInfo<>(ServingOutput.class))
        .uid("answers").name("answer router");

    answers.sinkTo(sink(cfg, "responses", cfg.exactlyOnce(), OutputSerializers.responses(cfg.get(TOPIC_RESPONSES),
        cfg.get(RESPONSE_SCHEMA_VERSION))))
        .uid("sink-responses").name("responses");
    answers.getSideOutput(AnswerRouter.FEED)
        .sinkTo(sink(cfg, "candidates", cfg.feedExactlyOnce(), OutputSerializers.feed(cfg.get(TOPIC_CANDIDATES),
            cfg.get(ServingOptions.FEED_SCHEMA_VERSION))))
        .uid("sink-candidates").name("candidates");
    DataStream<DeadLetter> dead = inputs.getSideOutput(DeadLetterSplit.DEAD)
        .union(descriptors.getSideOutput(DeadLetterSplit.DEAD));
    dead.sinkTo(sink(cfg, "dead-letter", cfg.exactlyOnce(), OutputSerializers.deadLetters(cfg.get(TOPIC_DEAD_LETTER))))
        .uid("sink-dead-letter").name("dead letters");
  }

  /**
   * A sharded index: each task is copied to the S shards' retrieval subtasks (shard i to subtask i mod
   * parallelism, so a TaskManager loads only the shards routed to it), and the shards' answers are
   * gathered by task id into one answer.
   */
  private static DataStream<ServingOutput> scatterGather(DataStream<ScoringTask> tasks, ServingConfig cfg) {
    int shards = cfg.engine().shards();
    DataStream<ScoringTask> copies = tasks
        .flatMap(new ShardScatter(shards), new AvroTypeInfo<>(ScoringTask.class)).uid("scatter").name("scatter to shards")
        .partitionCustom(ShardScatter.PARTITIONER, ShardScatter::shardOf);
    DataStream<ServingOutput> answers = AsyncDataStream.unorderedWait(copies, new AsyncRetrievalFunction(cfg.engine()),
            cfg.get(ASYNC_TIMEOUT_MS), TimeUnit.MILLISECONDS, cfg.get(ASYNC_CAPACITY))
        .returns(new AvroTypeInfo<>(ServingOutput.class))
        .uid("shard-retrieval").name("async shard retrieval");
    return answers
        .keyBy(ServingOutput::getTaskId, Types.STRING)
        // a task whose copies cannot all answer (restored from a savepoint of another shard count) is
        // answered PARTIAL after ten async timeouts, a minute at least
        .process(new ShardGather(shards, Math.max(60_000L, 10L * cfg.get(ASYNC_TIMEOUT_MS))),
            new AvroTypeInfo<>(ServingOutput.class))
        .uid("gather").name("gather shards");
  }

  /**
   * Runs the job in the current execution environment: the cluster's under {@code flink run}, an
   * embedded MiniCluster otherwise. Blocks until the job ends.
   */
  public static void run(ServingConfig cfg) throws Exception {
    LOG.info("nann-serving settings (secrets masked): {}", cfg);
    KafkaPreflight.check(cfg.get(BOOTSTRAP_SERVERS), cfg.kafkaProperties(), java.time.Duration.ofSeconds(30),
        new KafkaPreflight.Needs(cfg.topics(), cfg.compactedTopics(), cfg.outputTopics(),
            cfg.exactlyOnce() || cfg.feedExactlyOnce() ? cfg.get(TRANSACTION_TIMEOUT_MS) : 0));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(flinkConfiguration(cfg));
    build(env, cfg);
    env.execute("nann-serving");
  }

  /** Entry point for {@code flink run -c dev.nann.jobs.ServingJob nann-job.jar --config serving.properties}. */
  public static void main(String[] args) throws Exception {
    if (args.length != 2 || !args[0].equals("--config")) {
      System.err.println("usage: ServingJob --config serving.properties");
      System.exit(2);
    }
    run(ServingConfig.load(Path.of(args[1])));
  }

  static long userOf(ServingInput in) {
    return in.getRequest() != null ? in.getRequest().getUserId() : in.getEvent().getUserId();
  }

  private static <T> KafkaSink<T> sink(ServingConfig cfg, String name, boolean exactlyOnce,
                                       KafkaRecordSerializationSchema<T> serializer) {
    return KafkaSinks.of(cfg.get(BOOTSTRAP_SERVERS), cfg.kafkaProperties(), exactlyOnce,
        cfg.get(TRANSACTIONAL_ID_PREFIX) + "-" + name, cfg.get(TRANSACTION_TIMEOUT_MS), serializer);
  }
}
