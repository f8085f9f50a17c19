package dev.nann.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The job jar carries ONNX Runtime, so on a Flink cluster the runtime is loaded by the job's class
 * loader. When Flink releases that class loader (the job was cancelled or resubmitted), the job's
 * classes must be collectable, or each resubmission keeps its classes and a copy of the native
 * library on every TaskManager until the metaspace runs out. The job jar is loaded here as Flink
 * loads it (its own class loader over a parent without the runtime, in a JVM with Flink's
 * {@code --add-opens}); the runtime is started and the release hook the operators register is run.
 */
class JobClassLoaderTest {
  /** Run in the child JVM: args[0] is the job jar. */
  public static void main(String[] args) throws Exception {
    WeakReference<ClassLoader> job = startAndRelease(Path.of(args[0]));
    for (int i = 0; i < 20 && job.get() != null; i++) {
      System.gc();
      Thread.sleep(100);
    }
    System.out.println(job.get() == null ? "job class loader collected" : "job class loader retained");
  }

  private static WeakReference<ClassLoader> startAndRelease(Path jar) throws Exception {
    URLClassLoader job = new URLClassLoader(new URL[] {jar.toUri().toURL()}, JobClassLoaderTest.class.getClassLoader());
    Class<?> env = Class.forName("dev.nann.scorer.OrtEnv", true, job);
    env.getMethod("get").invoke(null);
    System.out.println("released: " + env.getMethod("release").invoke(null));
    job.close();
    return new WeakReference<>(job);
  }

  @Test
  void aReleasedJobsClassesAreCollected() throws Exception {
    Path jobJar = Path.of(System.getProperty("nann.repo", "..")).resolve("flink-jobs/target/nann-job.jar");
    assertTrue(Files.isRegularFile(jobJar), "the job jar must be built first (test.sh does): " + jobJar);
    // the child's class path holds this class and SLF4J (from Flink's lib/ on a cluster), not the runtime
    String classPath = String.join(java.io.File.pathSeparator,
        location(JobClassLoaderTest.class), location(org.slf4j.LoggerFactory.class));
    JvmRun run = JvmRun.of(List.of("--add-opens=java.base/java.lang=ALL-UNNAMED", "-cp", classPath,
        JobClassLoaderTest.class.getName(), jobJar.toString()), Duration.ofSeconds(120));
    String out = run.output();
    assertTrue(run.ended(), "the child JVM did not finish:\n" + out);
    assertEquals(0, run.exitCode(), out);
    assertTrue(out.contains("released: true"), out);
    assertTrue(out.contains("job class loader collected"), out);
  }

  private static String location(Class<?> c) throws Exception {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }
}
