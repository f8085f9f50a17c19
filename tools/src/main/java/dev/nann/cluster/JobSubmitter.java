package dev.nann.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Submits a job jar to a {@link LocalCluster} with Flink's own command line client ({@code
 * CliFrontend run --detached}, what {@code bin/flink run -d} runs), in a process of its own with
 * the cluster's configuration directory: the job's {@code main} runs in that client against the
 * cluster's REST API, never in the calling JVM.
 */
public final class JobSubmitter {
  private static final Pattern JOB_ID = Pattern.compile("JobID ([0-9a-f]{32})");

  private JobSubmitter() {}

  /**
   * Runs {@code flink run -d -p <parallelism> -c <mainClass> <jobJar> <programArgs>} and returns the
   * job id once the cluster has accepted the job.
   *
   * @throws IllegalStateException if the client fails, with the tail of its output
   */
  public static String submit(LocalCluster cluster, Path jobJar, String mainClass, int parallelism,
                              List<String> programArgs) throws IOException, InterruptedException {
    if (!Files.isRegularFile(jobJar)) {
      throw new IllegalStateException("no job jar at " + jobJar
          + "; build it with: mvn -q -Pjob-jar -DskipTests package -pl flink-jobs -am");
    }
    String name = "client-" + mainClass.substring(mainClass.lastIndexOf('.') + 1);
    Path out = cluster.home().logs().resolve(name + ".out");
    Files.deleteIfExists(out);
    List<String> args = new ArrayList<>(List.of("run", "--detached", "--parallelism", Integer.toString(parallelism),
        "--class", mainClass, jobJar.toAbsolutePath().toString()));
    args.addAll(programArgs);
    Path conf = cluster.home().conf();
    List<String> jvm = new ArrayList<>(List.of("-Xmx512m"));
    jvm.addAll(cluster.logging(name));
    jvm.addAll(LocalCluster.FLINK_JAVA_OPTS);
    Process p = ChildJvm.start(cluster.home().dir().toString(), jvm,
        cluster.flinkClasspath(), "org.apache.flink.client.cli.CliFrontend", args,
        Map.of("FLINK_CONF_DIR", conf.toString()), out);
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException("flink run did not finish in 5 minutes; see " + out);
    }
    String output = Files.readString(out);
    Matcher m = JOB_ID.matcher(output);
    if (p.exitValue() != 0 || !m.find()) {
      String tail = output.length() > 3000 ? output.substring(output.length() - 3000) : output;
      throw new IllegalStateException("flink run of " + mainClass + " failed (exit " + p.exitValue() + "):\n" + tail);
    }
    return m.group(1);
  }
}
