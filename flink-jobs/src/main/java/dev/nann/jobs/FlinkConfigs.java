package dev.nann.jobs;

import org.apache.flink.configuration.Configuration;

/** Flink settings both nann jobs share. */
final class FlinkConfigs {
  private FlinkConfigs() {}

  /** RocksDB state with incremental, exactly-once checkpoints kept when the job is cancelled. */
  static Configuration rocksDbCheckpointed(String checkpointDir, int intervalMs, int parallelism) {
    Configuration c = new Configuration();
    c.setString("state.backend.type", "rocksdb");
    c.setString("execution.checkpointing.incremental", "true");
    c.setString("execution.checkpointing.dir", checkpointDir);
    c.setString("execution.checkpointing.interval", intervalMs + " ms");
    c.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
    c.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    c.setString("parallelism.default", Integer.toString(parallelism));
    // every record type has a serializer of its own (Avro, Flink's basic types): a type that would
    // fall back to Kryo fails when the job is built instead of running slowly
    c.setString("pipeline.generic-types", "false");
    return c;
  }
}
