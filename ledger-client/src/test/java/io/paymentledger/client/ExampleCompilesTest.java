package io.paymentledger.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/** The README's runnable example compiles against this client (it is not part of the Maven build otherwise). */
class ExampleCompilesTest {

    @Test
    void payOnceCompiles() throws Exception {
        Path example = Path.of("examples", "PayOnce.java");
        assertThat(example).exists();
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        Path out = Files.createTempDirectory("example");
        StringWriter errors = new StringWriter();
        boolean ok = javac.getTask(errors, null, null, List.of("-d", out.toString(), "-cp", System.getProperty("java.class.path")),
                null, javac.getStandardFileManager(null, null, null).getJavaFileObjects(example.toFile())).call();
        assertThat(ok).as(errors.toString()).isTrue();
        assertThat(out.resolve("PayOnce.class")).exists();
    }
}
