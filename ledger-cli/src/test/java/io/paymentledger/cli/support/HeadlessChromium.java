package io.paymentledger.cli.support;

import static org.assertj.core.api.Assertions.fail;

import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pem;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.naming.ldap.LdapName;

/**
 * Debian's Chromium, headless, as the operator's browser: a profile of its own whose NSS database holds one client
 * certificate and trusts the deployment's CA, and which presents that certificate to one origin by itself (the
 * AUTO_SELECT_CERTIFICATE content setting, the same thing the AutoSelectCertificateForUrls policy sets, written into
 * the profile's preferences, so nothing outside the profile changes). Needs the packages {@code chromium} and
 * {@code libnss3-tools} (certutil, pk12util).
 */
public final class HeadlessChromium {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    /** One page load, Chromium's start included (a cold start on a loaded 2-core machine takes a few seconds). */
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(60);
    /** Virtual time the page's scripts get before the DOM is dumped (its first poll runs within it). */
    static final int VIRTUAL_TIME_BUDGET_MS = 2_500;
    private static final String P12_PASSWORD = "browser";

    private final Path home;
    private final Path profile;

    private HeadlessChromium(Path home, Path profile) {
        this.home = home;
        this.profile = profile;
    }

    /** Fails the test naming the Debian packages when a tool is missing. */
    public static void requireInstalled() {
        for (String tool : List.of(CHROMIUM.toString(), "certutil", "pk12util")) {
            if (!onPath(tool)) {
                fail(tool + " is not installed: apt-get install -y chromium libnss3-tools (the status page test drives a real browser)");
            }
        }
    }

    private static boolean onPath(String tool) {
        if (tool.startsWith("/")) {
            return Files.isExecutable(Path.of(tool));
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    /** A browser under {@code dir} that presents {@code identity} to {@code origin} ("https://127.0.0.1:7400"). */
    public static HeadlessChromium withClientCertificate(Path dir, IssuedCert identity, Path caFile, String origin) throws Exception {
        requireInstalled();
        Path home = Files.createDirectories(dir.resolve("home"));
        Path nss = Files.createDirectories(home.resolve(".pki/nssdb"));
        Path profile = Files.createDirectories(dir.resolve("profile/Default"));
        Path p12 = dir.resolve("identity.p12");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("client", Pem.readPrivateKey(identity.keyFile()), P12_PASSWORD.toCharArray(),
                new Certificate[] {identity.cert()});
        try (OutputStream out = Files.newOutputStream(p12)) {
            ks.store(out, P12_PASSWORD.toCharArray());
        }
        run(List.of("certutil", "-N", "-d", "sql:" + nss, "--empty-password"), home);
        run(List.of("pk12util", "-i", p12.toString(), "-d", "sql:" + nss, "-W", P12_PASSWORD), home);
        run(List.of("certutil", "-A", "-d", "sql:" + nss, "-n", "ledger-ca", "-t", "C,,", "-i", caFile.toString()), home);
        String issuer = commonName(caFile);
        Files.writeString(profile.resolve("Preferences"), "{\"profile\":{\"content_settings\":{\"exceptions\":"
                + "{\"auto_select_certificate\":{\"" + origin + ",*\":{\"setting\":{\"filters\":[{\"ISSUER\":{\"CN\":\""
                + issuer + "\"}}]}}}}}}}");
        return new HeadlessChromium(home, profile.getParent());
    }

    private static String commonName(Path caFile) throws Exception {
        X509Certificate ca;
        try (var in = Files.newInputStream(caFile)) {
            ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        return new LdapName(ca.getSubjectX500Principal().getName()).getRdns().stream()
                .filter(r -> r.getType().equalsIgnoreCase("CN")).map(r -> r.getValue().toString()).findFirst().orElseThrow();
    }

    /** Loads {@code url} and returns the DOM after its scripts ran. */
    public String dumpDom(String url) throws Exception {
        return run(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--virtual-time-budget=" + VIRTUAL_TIME_BUDGET_MS, "--dump-dom", url), home);
    }

    /** The text of the element with {@code id} in a dumped DOM (null when absent). */
    public static String text(String dom, String id) {
        Matcher m = Pattern.compile("id=\"" + Pattern.quote(id) + "\"[^>]*>([^<]*)<").matcher(dom);
        return m.find() ? m.group(1) : null;
    }

    private static String run(List<String> command, Path home) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("HOME", home.toString());
        Process p = pb.start();
        // Read while it runs (a full pipe would stall it); the process is bounded by RUN_TIMEOUT.
        var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        if (!p.waitFor(RUN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            fail(command.get(0) + " did not finish within " + RUN_TIMEOUT.toSeconds() + " s");
        }
        if (p.exitValue() != 0) {
            fail(String.join(" ", command) + " exited " + p.exitValue() + ": " + out.join());
        }
        return out.join();
    }
}
