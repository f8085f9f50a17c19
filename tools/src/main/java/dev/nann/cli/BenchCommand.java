package dev.nann.cli;

import dev.nann.cli.bench.FreshnessBench;
import dev.nann.cli.bench.FuzzBench;
import dev.nann.cli.bench.KafkaHopBench;
import dev.nann.cli.bench.OverloadBench;
import dev.nann.cli.bench.RebuildBench;
import dev.nann.cli.bench.ScorerBench;
import dev.nann.cli.bench.ServingBench;
import dev.nann.cli.bench.ShardsBench;
import picocli.CommandLine.Command;

/** {@code ./nann bench <kind>}: benchmarks (not tests), each a subcommand with its own options. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks (not tests): serving (requests/s within a latency budget), freshness (upsert to answer), "
        + "rebuild (full HNSW build vs adding nodes), fuzz (hostile records on every input topic), overload (shedding and recovery), "
        + "shards (a sharded catalogue on the multi-process cluster), scorer (what one score-network call costs), "
        + "kafka-hop (one Kafka hop and a bare TCP round trip by message rate).",
    subcommands = {ServingBench.class, FreshnessBench.class, RebuildBench.class, FuzzBench.class, OverloadBench.class,
        ShardsBench.class, ScorerBench.class, KafkaHopBench.class})
public final class BenchCommand {
}
