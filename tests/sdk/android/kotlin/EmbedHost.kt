// Host test of an int64-input model (token ids into an embedding).
package com.test.embed

import com.test.embed.pockettorch.ErrorCode
import com.test.embed.pockettorch.PocketTorchException
import com.test.embed.pockettorch.Tensor
import com.test.support.readLongs
import com.test.support.writeFloats
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** args: model.ptm, input_0.bin, output dir */
public fun main(args: Array<String>) {
    val (modelPath, inputPath, outDir) = args
    TokenEmbed(File(modelPath)).use { model ->
        val out = model.run(tokens = Tensor.Int64(readLongs(inputPath), listOf(1, 3)))
        assertEquals(listOf(1, 3, 4), out.output.shape)
        writeFloats("$outDir/output_0.bin", out.output.data)
        // A token id outside the table is the runtime's INDEX_OUT_OF_RANGE, raised through JNI.
        val e = assertFailsWith<PocketTorchException> { model.run(Tensor.Int64(longArrayOf(1, 99, 2), listOf(1, 3))) }
        assertEquals(ErrorCode.INDEX_OUT_OF_RANGE, e.errorCode)
    }
    println("embed host test passed")
}
