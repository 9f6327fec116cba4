// Host test: one model instance called from many JVM threads, and a typed model from many coroutines through
// runSuspending. Every output is compared with a sequential call's on the same input (exact: the runtime is
// deterministic).
package com.test.threads

import com.test.multi.TwoInputs
import java.io.File
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.sin
import kotlin.system.exitProcess
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import com.test.classifier.pockettorch.Model as ClassifierModel
import com.test.classifier.pockettorch.Tensor as ClassifierTensor
import com.test.multi.pockettorch.Tensor as MultiTensor

private fun values(n: Int, i: Int, salt: Double) = FloatArray(n) { j -> sin(0.37 * i + 0.11 * j + salt).toFloat() }

private class Tally {
    val ok = AtomicInteger()
    val wrong = AtomicInteger()
    val failed = AtomicInteger()

    fun check(same: Boolean) = (if (same) ok else wrong).incrementAndGet()

    override fun toString() = "wrong=${wrong.get()} failed=${failed.get()} ok=${ok.get()}"
}

/**
 * args: classifier-ops model.ptm (one float32 input, one float32 output, any shape), two_inputs.ptm,
 * numThreads, callers, calls. Prints "wrong=N failed=N ok=N"; exits 3 on a deadlock.
 */
public fun main(args: Array<String>) {
    val (bigPath, multiPath) = args
    val (numThreads, callers, calls) = args.drop(2).map { it.toInt() }
    // A deadlocked native call cannot be interrupted: a watchdog ends the JVM so the test fails instead of hanging.
    val watchdog = Thread {
        Thread.sleep(90_000)
        println("deadlock")
        Runtime.getRuntime().halt(3)
    }
    watchdog.isDaemon = true
    watchdog.start()
    val total = callers * calls
    val tally = Tally()
    ClassifierModel(File(bigPath), numThreads).use { model ->
        val spec = model.inputs.single()
        val size = spec.shape.fold(1) { a, b -> a * b }
        fun run(i: Int) = (model.run(listOf(ClassifierTensor.Float32(values(size, i, 0.0), spec.shape))).single() as ClassifierTensor.Float32).data
        val expected = List(total) { run(it) }
        val pool = Executors.newFixedThreadPool(callers)
        for (t in 0 until callers) {
            pool.execute {
                for (i in t * calls until (t + 1) * calls) {
                    try {
                        tally.check(run(i).contentEquals(expected[i]))
                    } catch (e: Exception) {
                        tally.failed.incrementAndGet()
                    }
                }
            }
        }
        pool.shutdown()
        pool.awaitTermination(90, TimeUnit.SECONDS)
    }
    TwoInputs(File(multiPath), numThreads).use { model ->
        fun input(i: Int, salt: Double) = MultiTensor.Float32(values(4, i, salt), listOf(1, 4))
        val expected = List(total) { i -> model.run(input(i, 0.0), input(i, 1.0)).let { listOf(it.output0.data, it.output1.data) } }
        runBlocking(Dispatchers.Default) {
            (0 until total).map { i ->
                async {
                    val out = model.runSuspending(input(i, 0.0), input(i, 1.0))
                    tally.check(out.output0.data.contentEquals(expected[i][0]) && out.output1.data.contentEquals(expected[i][1]))
                }
            }.awaitAll()
        }
    }
    println(tally)
    exitProcess(0)
}
