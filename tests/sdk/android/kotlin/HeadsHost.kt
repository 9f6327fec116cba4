// Host test of a dict-output model whose keys are "logits" and the Kotlin keyword "class".
package com.test.heads

import com.test.support.readFloats
import com.test.support.writeFloats
import java.io.File

/** args: model.ptm, input_0.bin, output dir */
public fun main(args: Array<String>) {
    val (modelPath, inputPath, outDir) = args
    Heads(File(modelPath)).use { model ->
        val out = model.run(features = com.test.heads.pockettorch.Tensor.Float32(readFloats(inputPath), listOf(1, 6)))
        writeFloats("$outDir/output_0.bin", out.logits.data)
        writeFloats("$outDir/output_1.bin", out.class_.data)
    }
    println("heads host test passed")
}
