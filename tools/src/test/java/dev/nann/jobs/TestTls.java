package dev.nann.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * TLS material for a test broker, made with the JDK's own {@code keytool} (no Bouncy Castle): a
 * self-signed key pair for CN=localhost (SAN dns:localhost, ip:127.0.0.1) in a PKCS12 key store for
 * the broker, its certificate as PEM (what Strimzi's cluster CA secret holds as {@code ca.crt}) and
 * in a PKCS12 trust store for clients. The certificate is its own CA.
 *
 * @param keyStore the broker's PKCS12 key store
 * @param keyStorePassword its password (also the key's)
 * @param caPem the certificate, PEM
 * @param trustStore a PKCS12 trust store holding the certificate
 * @param trustStorePassword its password
 */
record TestTls(Path keyStore, String keyStorePassword, Path caPem, Path trustStore, String trustStorePassword) {
  static TestTls create(Path dir) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    TestTls t = new TestTls(dir.resolve("broker.p12"), "broker-store-pw", dir.resolve("ca.crt"),
        dir.resolve("truststore.p12"), "trust-store-pw");
    keytool("-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
        "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
        "-keystore", t.keyStore.toString(), "-storetype", "PKCS12",
        "-storepass", t.keyStorePassword, "-keypass", t.keyStorePassword);
    keytool("-exportcert", "-rfc", "-alias", "broker", "-keystore", t.keyStore.toString(), "-storetype", "PKCS12",
        "-storepass", t.keyStorePassword, "-file", t.caPem.toString());
    keytool("-importcert", "-noprompt", "-alias", "nann-test-ca", "-file", t.caPem.toString(),
        "-keystore", t.trustStore.toString(), "-storetype", "PKCS12", "-storepass", t.trustStorePassword);
    return t;
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    Path bin = Path.of(System.getProperty("java.home"), "bin", "keytool");
    List<String> cmd = new ArrayList<>();
    cmd.add(Files.isExecutable(bin) ? bin.toString() : "keytool");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("keytool " + args[0] + " failed: " + out);
    }
  }
}
