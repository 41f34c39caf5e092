package io.paymentledger.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `./ledger merchant create` refuses what no issuer may mint, before it reads or writes anything. */
class MerchantCommandTest {

    @Test
    void aReservedMerchantIdIsRefusedInAnyCaseWithAClearError(@TempDir Path dir) {
        for (String reserved : new String[] {"Operator", "OPERATOR", "operator", "anonymous"}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code;
            try {
                code = Main.execute("merchant", "create", reserved, "--dir", dir.toString());
            } finally {
                System.setErr(old);
            }
            assertThat(code).isEqualTo(1);
            assertThat(err.toString(StandardCharsets.UTF_8)).contains("ledger: invalid merchant id '" + reserved + "': reserved");
            assertThat(dir).isEmptyDirectory();
        }
    }
}
