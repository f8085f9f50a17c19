package dev.nann.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.cluster.ChaosRun;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./nann chaos}: failure injection against a local multi-process Flink cluster under load. */
@Command(name = "chaos", mixinStandardHelpOptions = true, description = {
    "Starts a Flink session cluster (JobManager + TaskManager processes) and a Kafka broker process, deploys",
    "index-sync and serving from the job jar, and sends requests open-loop while TaskManagers are killed with",
    "kill -9 (and replaced), the broker is restarted, index-sync is killed right after publishing, and serving",
    "restarts with its newest snapshot damaged. Prints one line per fault and a JSON summary line."})
public final class ChaosCommand implements Callable<Integer> {
  @Option(names = "--requests", description = "requests to send (default: ${DEFAULT-VALUE})")
  int requests = 100_000;
  @Option(names = "--rate", description = "requests per second, open loop (default: ${DEFAULT-VALUE})")
  double rate = 50;
  @Option(names = "--tm-kills", description = "kill -9 of a TaskManager running serving (default: ${DEFAULT-VALUE})")
  int tmKills = 3;
  @Option(names = "--broker-restarts", description = "broker stops and restarts (default: ${DEFAULT-VALUE})")
  int brokerRestarts = 1;
  @Option(names = "--no-index-sync-kill", description = "skip killing index-sync's TaskManager right after it "
      + "publishes a snapshot, before its next checkpoint (done by default)")
  boolean noIndexSyncKill;
  @Option(names = "--no-broken-snapshot", description = "skip damaging the newest snapshot in the store before a "
      + "serving TaskManager is killed, after which the restore must answer from an older snapshot (done by default)")
  boolean noBrokenSnapshot;
  @Option(names = "--commit-window-kills", description = "kill -9 of a serving TaskManager the moment a checkpoint "
      + "completes, before its transactions commit (default: ${DEFAULT-VALUE})")
  int commitWindowKills = 0;
  @Option(names = "--timeout-restore", description = "at the end, kill every serving TaskManager the moment a checkpoint "
      + "completes and start replacements only after the transaction timeout (with --transaction-timeout-ms)")
  boolean timeoutRestore;
  @Option(names = "--transaction-timeout-ms", description = "the serving sinks' kafka.transaction-timeout-ms (default: "
      + "the job's)")
  int transactionTimeoutMs = 0;
  @Option(names = "--delivery", description = "responses: exactly-once or at-least-once (default: ${DEFAULT-VALUE})")
  String delivery = "exactly-once";
  @Option(names = "--extra-items", description = "synthetic items added to the 1,682-item demo catalogue, for a "
      + "larger snapshot (default: ${DEFAULT-VALUE})")
  int extraItems = 0;
  @Option(names = "--users", description = "users with behaviour in keyed state (default: ${DEFAULT-VALUE})")
  int users = 1000;
  @Option(names = "--events-per-user", description = "behaviour events per user (default: ${DEFAULT-VALUE})")
  int eventsPerUser = 20;
  @Option(names = "--trigger-every", description = "a feed trigger event per this many requests (default: ${DEFAULT-VALUE})")
  int triggerEvery = 20;
  @Option(names = "--checkpoint-interval-ms", description = "both jobs' checkpoint interval (default: ${DEFAULT-VALUE})")
  int checkpointIntervalMs = 2000;
  @Option(names = "--task-managers", description = "TaskManager processes (default: ${DEFAULT-VALUE})")
  int taskManagers = 2;
  @Option(names = "--parallelism", description = "the serving job's parallelism (default: ${DEFAULT-VALUE})")
  int parallelism = 2;
  @Option(names = "--drain-s", description = "after the last request, seconds without a new answer before the rest "
      + "count as lost (default: ${DEFAULT-VALUE})")
  int drainSeconds = 120;
  @Option(names = "--home", description = "the cluster's directory (default: <repo>/.nann-chaos; emptied first)")
  Path home;
  @Option(names = "--keep", description = "leave the cluster running at the end (./nann cluster status --home ...)")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    if (!delivery.equals("exactly-once") && !delivery.equals("at-least-once")) {
      throw new IllegalArgumentException("--delivery must be exactly-once or at-least-once, not '" + delivery + "'");
    }
    if (requests < 1 || users < 1 || !(rate > 0) || taskManagers < 1 || parallelism < 1 || tmKills < 0
        || brokerRestarts < 0 || commitWindowKills < 0 || eventsPerUser < 0 || triggerEvery < 0) {
      throw new IllegalArgumentException("--requests, --users, --rate, --task-managers and --parallelism must be "
          + "positive, and fault and event counts not negative");
    }
    Path repo = ModelLocator.repoRoot();
    ChaosRun.Options o = new ChaosRun.Options(home != null ? home : repo.resolve(".nann-chaos"), requests, rate, tmKills,
        brokerRestarts, !noIndexSyncKill, !noBrokenSnapshot, commitWindowKills, timeoutRestore, transactionTimeoutMs,
        delivery, extraItems, users, eventsPerUser, triggerEvery, checkpointIntervalMs,
        taskManagers, parallelism, drainSeconds, keep);
    ChaosRun.Summary s = ChaosRun.run(o, repo, ClusterCommand.Home.flinkLib(), System.getProperty("java.class.path"),
        ClusterCommand.Home.jobJar(), System.err);
    for (ChaosRun.FaultResult f : s.faults()) {
      System.err.printf("[chaos] %-18s at %5.0f s on %-14s first answer after %5.1f s (%d answers meanwhile), "
          + "prompt again after %5.1f s  %s%n", f.fault(), f.atS(), f.target(), f.recoveryS(), f.answersDuringRecovery(),
          f.promptAgainS(), f.note());
    }
    System.err.printf("[chaos] statuses %s; latency p50 %.0f ms, p99 %.0f ms; feed %d triggers, %d pushes; serving "
        + "failovers %d; index versions reused %d%n", s.statuses(), s.p50Ms(), s.p99Ms(), s.feedTriggers(),
        s.feedDelivered(), s.servingFailovers(), s.indexVersionsReused());
    ObjectNode j = JsonLines.object();
    j.put("sent", s.sent());
    j.put("answered", s.answered());
    j.put("duplicates", s.duplicates());
    j.put("lost", s.lost());
    j.put("tm_kills", s.tmKills());
    j.put("broker_restarts", s.brokerRestarts());
    seconds(j, "recovery_s_p50", s.recoveryP50());
    j.put("delivery", s.delivery());
    var recoveries = j.putArray("recovery_s");
    for (ChaosRun.FaultResult f : s.faults()) {
      ObjectNode r = recoveries.addObject().put("fault", f.fault().name().toLowerCase(java.util.Locale.ROOT))
          .put("at_s", JsonLines.round(f.atS(), 1));
      seconds(r, "recovery_s", f.recoveryS());
      seconds(r, "prompt_again_s", f.promptAgainS());
      r.put("answers_meanwhile", f.answersDuringRecovery());
    }
    j.put("feed_triggers", s.feedTriggers());
    j.put("feed_pushes", s.feedDelivered());
    j.put("index_versions_reused", s.indexVersionsReused());
    j.put("serving_failovers", s.servingFailovers());
    j.put("latency_p50_ms", JsonLines.round(s.p50Ms(), 1));
    j.put("latency_p99_ms", JsonLines.round(s.p99Ms(), 1));
    j.putPOJO("statuses", s.statuses());
    System.out.println(JsonLines.line(j));
    List<String> failed = failures(s);
    failed.forEach(f -> System.err.println("[chaos] FAILED: " + f));
    return failed.isEmpty() ? 0 : 1;
  }

  /** Statuses a fault may cause without anything being wrong: shed at once, or past its deadline. */
  private static final java.util.Set<String> FAULT_STATUSES = java.util.Set.of("OK", "COLD_START", "OVERLOADED", "TIMEOUT",
      "PARTIAL");

  /** Why a run failed, one sentence each; none when every check holds. */
  static List<String> failures(ChaosRun.Summary s) {
    List<String> out = new java.util.ArrayList<>();
    if (s.faults().size() != s.faultsPlanned()) {
      out.add((s.faultsPlanned() - s.faults().size()) + " of " + s.faultsPlanned() + " faults could not be injected (see the log)");
    }
    if (Double.isNaN(s.recoveryP50())) {
      out.add("no answer came after any fault");
    }
    if (s.lost() > 0) {
      out.add(s.lost() + " requests never answered");
    }
    if (s.indexVersionsReused() > 0) {
      out.add(s.indexVersionsReused() + " index versions published with two different files");
    }
    if (s.delivery().equals("exactly-once") && s.duplicates() > 0) {
      out.add(s.duplicates() + " answers repeated with exactly-once delivery");
    }
    s.statuses().forEach((status, n) -> {
      if (!FAULT_STATUSES.contains(status)) {
        out.add(n + " answers " + status + ": no fault explains that status");
      }
    });
    int withItems = s.statuses().getOrDefault("OK", 0) + s.statuses().getOrDefault("COLD_START", 0);
    if (withItems * 2 < s.sent()) {
      out.add("only " + withItems + " of " + s.sent() + " requests answered with items (OK or COLD_START)");
    }
    return out;
  }

  /** Seconds to one decimal; null when there is no figure (no answer came after the fault). */
  private static void seconds(ObjectNode j, String key, double s) {
    if (Double.isNaN(s)) {
      j.putNull(key);
    } else {
      j.put(key, JsonLines.round(s, 1));
    }
  }
}
