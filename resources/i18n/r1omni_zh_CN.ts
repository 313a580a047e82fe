<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AnalysisToolBar</name>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Model folder, load/unload, download, device and precision</source>
        <translation>模型文件夹、加载/卸载、下载、设备与精度</translation>
    </message>
    <message>
        <source>Choose model folder…</source>
        <translation>选择模型文件夹…</translation>
    </message>
    <message>
        <source>Remote server…</source>
        <translation>远程服务器…</translation>
    </message>
    <message>
        <source>Analyse on a model server (python main.py serve) instead of this computer</source>
        <translation>在模型服务器（python main.py serve）上分析，而不是在本机</translation>
    </message>
    <message>
        <source>Load model</source>
        <translation>加载模型</translation>
    </message>
    <message>
        <source>Unload model</source>
        <translation>卸载模型</translation>
    </message>
    <message>
        <source>Download weights…</source>
        <translation>下载权重…</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Precision</source>
        <translation>精度</translation>
    </message>
    <message>
        <source>Profile</source>
        <translation>计算模式</translation>
    </message>
    <message>
        <source>int8 decoding and Whisper over the window&apos;s own seconds: about 1.7x faster on a CPU; every result it gives is marked approximate</source>
        <translation>8 位整数解码，语音编码器只处理窗口本身的秒数：在 CPU 上约快 1.7 倍；它给出的每个结果都标注为近似</translation>
    </message>
    <message>
        <source> Window </source>
        <translation> 窗口 </translation>
    </message>
    <message>
        <source>Seconds of video + audio per analysis (max 30 s: the model hears at most 30 s)</source>
        <translation>每次分析的视频与音频秒数（最多 30 秒：模型最多听 30 秒）</translation>
    </message>
    <message>
        <source> hop </source>
        <translation> 步长 </translation>
    </message>
    <message>
        <source>A new window is cut every hop seconds; the newest waiting window wins</source>
        <translation>每隔“步长”秒切出一个新窗口；等待中的最新窗口优先</translation>
    </message>
    <message>
        <source> Labels </source>
        <translation> 标签 </translation>
    </message>
    <message>
        <source>The label set the answer is normalised to (and scored over)</source>
        <translation>回答归一化（并打分）所用的标签集</translation>
    </message>
    <message>
        <source> Prompt </source>
        <translation> 提示词 </translation>
    </message>
    <message>
        <source>The instruction given to the model with every window</source>
        <translation>每个窗口随附给模型的指令</translation>
    </message>
    <message>
        <source>Model: {name} ▾</source>
        <translation>模型：{name} ▾</translation>
    </message>
</context>
<context>
    <name>Banner</name>
    <message>
        <source>Dismiss (Esc)</source>
        <translation>关闭 (Esc)</translation>
    </message>
</context>
<context>
    <name>Consistency</name>
    <message>
        <source>answer disagrees with the reasoning</source>
        <translation>回答与推理不一致</translation>
    </message>
    <message>
        <source>reasoning describes a voice the model did not hear</source>
        <translation>推理描述了模型没有听到的声音</translation>
    </message>
    <message>
        <source>reasoning describes one person; the faces in view disagree</source>
        <translation>推理描述的是一个人，与画面中的人脸不符</translation>
    </message>
</context>
<context>
    <name>Controls</name>
    <message>
        <source>DFEW · 7 labels</source>
        <translation>DFEW · 7 个标签</translation>
    </message>
    <message>
        <source>MAFW · 11 labels</source>
        <translation>MAFW · 11 个标签</translation>
    </message>
    <message>
        <source>free labels</source>
        <translation>自由标签</translation>
    </message>
    <message>
        <source>R1-Omni prompt</source>
        <translation>R1-Omni 提示词</translation>
    </message>
    <message>
        <source>evaluation prompt</source>
        <translation>评测提示词</translation>
    </message>
    <message>
        <source>custom…</source>
        <translation>自定义…</translation>
    </message>
    <message>
        <source>auto (CUDA if present)</source>
        <translation>自动（有 CUDA 则用 CUDA）</translation>
    </message>
    <message>
        <source>exact (the official computation)</source>
        <translation>精确（官方计算方式）</translation>
    </message>
    <message>
        <source>fast (approximate, for a CPU)</source>
        <translation>快速（近似，适用于 CPU）</translation>
    </message>
    <message>
        <source>auto (fp16 on CUDA, bf16/fp32 on CPU)</source>
        <translation>自动（CUDA 上 fp16，CPU 上 bf16/fp32）</translation>
    </message>
    <message>
        <source> s</source>
        <translation> 秒</translation>
    </message>
    <message>
        <source>Monitoring</source>
        <translation>监测</translation>
    </message>
    <message>
        <source>Analysis</source>
        <translation>分析</translation>
    </message>
</context>
<context>
    <name>DownloadDialog</name>
    <message>
        <source>The hub cannot be reached. Check the network, or try a mirror or ModelScope.</source>
        <translation>无法连接模型仓库。请检查网络，或改用镜像或 ModelScope。</translation>
    </message>
    <message>
        <source>Access refused: log in (HF_TOKEN) and accept the model&apos;s licence on its page.</source>
        <translation>访问被拒绝：请登录（HF_TOKEN）并在模型页面上接受其许可协议。</translation>
    </message>
    <message>
        <source>Not found: check the model name and the mirror address.</source>
        <translation>未找到：请检查模型名称和镜像地址。</translation>
    </message>
    <message>
        <source>The disk is full: free space or choose another folder, then download again.</source>
        <translation>磁盘已满：请释放空间或选择其他文件夹，然后重新下载。</translation>
    </message>
    <message>
        <source>The transfer was interrupted. Download again to resume where it stopped.</source>
        <translation>传输中断。重新下载即可从中断处继续。</translation>
    </message>
    <message>
        <source>A file arrived damaged or incomplete. Download again.</source>
        <translation>有文件已损坏或不完整。请重新下载。</translation>
    </message>
    <message>
        <source>ModelScope needs the modelscope package: pip install modelscope.</source>
        <translation>使用 ModelScope 需要 modelscope 包：pip install modelscope。</translation>
    </message>
    <message>
        <source>The hub&apos;s answer cannot be used (see the log below).</source>
        <translation>模型仓库返回的内容无法使用（见下方日志）。</translation>
    </message>
    <message>
        <source>The download failed (see the log below).</source>
        <translation>下载失败（见下方日志）。</translation>
    </message>
    <message>
        <source>{m} min {s} s left</source>
        <translation>剩余 {m} 分 {s} 秒</translation>
    </message>
    <message>
        <source>{s} s left</source>
        <translation>剩余 {s} 秒</translation>
    </message>
    <message>
        <source>Download model weights</source>
        <translation>下载模型权重</translation>
    </message>
    <message>
        <source>default address; a mirror, e.g. {url}</source>
        <translation>默认地址；或镜像，例如 {url}</translation>
    </message>
    <message>
        <source>Leave empty for the hub itself (or HF_ENDPOINT when it is set)</source>
        <translation>留空则使用官方仓库（若设置了 HF_ENDPOINT 则用它）</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Hub</source>
        <translation>仓库</translation>
    </message>
    <message>
        <source>Mirror</source>
        <translation>镜像</translation>
    </message>
    <message>
        <source>Folder</source>
        <translation>文件夹</translation>
    </message>
    <message>
        <source>Only safetensors, configurations and tokenizer files are fetched. Interrupted downloads resume. Needs internet once; then the app works offline.</source>
        <translation>只下载 safetensors、配置和分词器文件。中断的下载可以续传。只需联网一次，之后可离线使用。</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>About {size} GB to download; needs about {memory} GB of memory (16-bit) to run.</source>
        <translation>下载约 {size} GB；运行需要约 {memory} GB 内存（16 位）。</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Cancelled. Files already fetched are kept; Download resumes from there.</source>
        <translation>已取消。已下载的文件会保留；再次下载将从中断处继续。</translation>
    </message>
    <message>
        <source>Folder for the weights</source>
        <translation>存放权重的文件夹</translation>
    </message>
    <message>
        <source>{done} of {total} · {speed}/s</source>
        <translation>{done} / {total} · {speed}/秒</translation>
    </message>
    <message>
        <source>Done: {folder}</source>
        <translation>完成：{folder}</translation>
    </message>
    <message>
        <source>Could not start the download: {error}</source>
        <translation>无法开始下载：{error}</translation>
    </message>
</context>
<context>
    <name>EmotionTimeline</name>
    <message>
        <source>event</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>exclude</source>
        <translation>排除</translation>
    </message>
    <message>
        <source>Follow now (F)</source>
        <translation>跟随当前 (F)</translation>
    </message>
    <message>
        <source>Dragging or zooming the timeline pauses following; this resumes it</source>
        <translation>拖动或缩放时间线会暂停跟随；点此恢复</translation>
    </message>
    <message>
        <source>drag to scroll · wheel to zoom · click a span for its evidence</source>
        <translation>拖动滚动 · 滚轮缩放 · 点击片段查看证据</translation>
    </message>
    <message>
        <source>label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>score</source>
        <translation>得分</translation>
    </message>
    <message>
        <source>The model&apos;s own preference over the label set (not a calibrated probability)</source>
        <translation>模型自身在标签集上的偏好（不是校准过的概率）</translation>
    </message>
    <message>
        <source>analysing…</source>
        <translation>分析中…</translation>
    </message>
    <message>
        <source>free labels: no score lines</source>
        <translation>自由标签：无得分曲线</translation>
    </message>
    <message>
        <source>score lines appear when the model reports per-label scores</source>
        <translation>模型给出各标签得分时会显示得分曲线</translation>
    </message>
</context>
<context>
    <name>EvidenceView</name>
    <message>
        <source>Select a span on the timeline or a history row to see what the model saw.</source>
        <translation>在时间线上选择一个片段或在历史中选择一行，查看模型看到的内容。</translation>
    </message>
    <message>
        <source>The {n} frames the model saw</source>
        <translation>模型看到的 {n} 帧</translation>
    </message>
    <message>
        <source>Audio the model heard</source>
        <translation>模型听到的音频</translation>
    </message>
    <message>
        <source>window #{id}</source>
        <translation>窗口 #{id}</translation>
    </message>
    <message>
        <source>Frames of this window are no longer in memory (see the session recording)</source>
        <translation>该窗口的帧已不在内存中（请查看会话录制）</translation>
    </message>
    <message>
        <source>The {n} frames the model saw (sampled uniformly from the {total} frames of the window)</source>
        <translation>模型看到的 {n} 帧（从窗口的 {total} 帧中均匀采样）</translation>
    </message>
    <message>
        <source>1 face</source>
        <translation>1 张人脸</translation>
    </message>
    <message>
        <source>{n} faces</source>
        <translation>{n} 张人脸</translation>
    </message>
    <message>
        <source>not kept in memory</source>
        <translation>未保留在内存中</translation>
    </message>
    <message>
        <source>Audio the model heard: none ({why}) — video-only analysis</source>
        <translation>模型听到的音频：无（{why}）— 仅视频分析</translation>
    </message>
    <message>
        <source>Audio: {why}</source>
        <translation>音频：{why}</translation>
    </message>
    <message>
        <source>Audio the model heard: {length} at 16 kHz, status {status} (padded to 30 s inside the model)</source>
        <translation>模型听到的音频：{length}，16 kHz，状态 {status}（在模型内补齐到 30 秒）</translation>
    </message>
    <message>
        <source>&lt;b&gt;Answer:&lt;/b&gt; {chip} &amp;nbsp; raw: {raw} &amp;nbsp; label set {labels}</source>
        <translation>&lt;b&gt;回答：&lt;/b&gt;{chip} &amp;nbsp; 原文：{raw} &amp;nbsp; 标签集 {labels}</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>推理</translation>
    </message>
    <message>
        <source>(no &lt;think&gt; text)</source>
        <translation>（没有 &lt;think&gt; 文本）</translation>
    </message>
    <message>
        <source>the reasoning concludes {labels}</source>
        <translation>推理的结论是 {labels}</translation>
    </message>
    <message>
        <source>the reasoning names no emotion of the label set</source>
        <translation>推理中没有提到标签集中的情绪</translation>
    </message>
    <message>
        <source>word rules over the reasoning (emotion words and negations, speech words against the audio, one person against the faces in view): they inform, they do not change the answer</source>
        <translation>基于推理文本的词语规则（情绪词与否定词对照回答，说话相关的词对照音频，单人描述对照画面中的人脸）：仅作提示，不会改变回答</translation>
    </message>
    <message>
        <source>Consistency</source>
        <translation>一致性检查</translation>
    </message>
    <message>
        <source>Faces in view</source>
        <translation>画面中的人脸</translation>
    </message>
    <message>
        <source>frontal faces per frame the model saw: {counts}</source>
        <translation>模型看到的每帧中的正脸数：{counts}</translation>
    </message>
    <message>
        <source>a frontal-face detector: it misses profiles and covered faces; it informs, it does not change the answer</source>
        <translation>正脸检测器：会漏掉侧脸和被遮挡的脸；仅供参考，不改变回答</translation>
    </message>
    <message>
        <source>Model preference over the label set</source>
        <translation>模型在标签集上的偏好</translation>
    </message>
    <message>
        <source>the model&apos;s own preference, not a calibrated probability</source>
        <translation>模型自身的偏好，不是校准过的概率</translation>
    </message>
    <message>
        <source>Timings</source>
        <translation>耗时</translation>
    </message>
    <message>
        <source>result age at arrival</source>
        <translation>结果到达时的时效</translation>
    </message>
    <message>
        <source>Raw output ({n} tokens)</source>
        <translation>原始输出（{n} 个词元）</translation>
    </message>
</context>
<context>
    <name>LevelMeter</name>
    <message>
        <source>Microphone level (dBFS): bar = RMS of the last 50 ms, tick = peak hold</source>
        <translation>麦克风电平 (dBFS)：条 = 最近 50 毫秒的均方根，刻线 = 峰值保持</translation>
    </message>
</context>
<context>
    <name>LiveController</name>
    <message>
        <source>Synthetic test pattern + chirp</source>
        <translation>合成测试图案 + 扫频音</translation>
    </message>
    <message>
        <source>Demo clip</source>
        <translation>演示片段</translation>
    </message>
    <message>
        <source>camera {index}</source>
        <translation>摄像头 {index}</translation>
    </message>
    <message>
        <source>Cannot open the source: {error}</source>
        <translation>无法打开信号源：{error}</translation>
    </message>
    <message>
        <source>No video source: pick a camera, the demo clip or a media file in the Source list.</source>
        <translation>没有视频源：请在“信号源”列表中选择摄像头、演示片段或媒体文件。</translation>
    </message>
    <message>
        <source>No microphone: analysis is video-only (the model hears nothing).</source>
        <translation>没有麦克风：仅用视频分析（模型听不到声音）。</translation>
    </message>
    <message>
        <source>load a model to re-run this window video-only</source>
        <translation>请先加载模型，才能仅用视频重新分析此窗口</translation>
    </message>
    <message>
        <source>this window&apos;s frames are no longer kept (only the newest {n} windows are): record the session and compare it without the voice in replay</source>
        <translation>此窗口的帧已不再保留（只保留最新的 {n} 个窗口）：请录制会话，并在回放中进行去掉声音的对比</translation>
    </message>
    <message>
        <source>Load a model first (Ctrl+L): every window of the file waits for its analysis.</source>
        <translation>请先加载模型 (Ctrl+L)：文件的每个窗口都要等待分析。</translation>
    </message>
    <message>
        <source>the file</source>
        <translation>该文件</translation>
    </message>
    <message>
        <source>Analysing every window of {name} as fast as the model allows (not in real time). Stop (Space) ends it.</source>
        <translation>正在以模型允许的最快速度分析 {name} 的每个窗口（非实时）。按“停止”(空格) 结束。</translation>
    </message>
    <message>
        <source>Every-window analysis of {name} stopped: {error}</source>
        <translation>{name} 的逐窗口分析已停止：{error}</translation>
    </message>
    <message>
        <source>{name} lasts {length} s, less than one {window} s window: shorten the window (Window box) and analyse it again.</source>
        <translation>{name} 只有 {length} 秒，不足一个 {window} 秒的窗口：请缩短窗口（“窗口”框）后重新分析。</translation>
    </message>
    <message>
        <source>, {n} failed</source>
        <translation>，{n} 个失败</translation>
    </message>
    <message>
        <source>Analysed every window of {name}: {done} of {cut} windows{failed}.</source>
        <translation>已分析 {name} 的每个窗口：{cut} 个窗口中完成 {done} 个{failed}。</translation>
    </message>
    <message>
        <source>Recording starts with monitoring (Space).</source>
        <translation>录制将随监测开始（空格）。</translation>
    </message>
    <message>
        <source>Recording to {folder}</source>
        <translation>正在录制到 {folder}</translation>
    </message>
    <message>
        <source>Recording stopped: {error}</source>
        <translation>录制已停止：{error}</translation>
    </message>
    <message>
        <source>Markers are placed while monitoring (Space starts it).</source>
        <translation>标记只能在监测时添加（按空格开始）。</translation>
    </message>
    <message>
        <source>No microphone — analysis is video-only (the model hears nothing).</source>
        <translation>没有麦克风 — 仅用视频分析（模型听不到声音）。</translation>
    </message>
    <message>
        <source>Audio lost: {error} — windows are analysed video-only until it is back.</source>
        <translation>音频丢失：{error} — 恢复之前窗口仅用视频分析。</translation>
    </message>
    <message>
        <source>This source has no audio track — analysis is video-only.</source>
        <translation>该信号源没有音轨 — 仅用视频分析。</translation>
    </message>
    <message>
        <source>Microphone — none</source>
        <translation>麦克风 — 无</translation>
    </message>
    <message>
        <source>Audio — {name}: level and the last 5 s</source>
        <translation>音频 — {name}：电平与最近 5 秒</translation>
    </message>
</context>
<context>
    <name>LiveViews</name>
    <message>
        <source>Emotion timeline — one span per analysed window [t0, t1], drawn where the window was, not when its result arrived</source>
        <translation>情绪时间线 — 每个已分析窗口一段 [t0, t1]，画在窗口所在的时间，而不是结果到达的时间</translation>
    </message>
    <message>
        <source>Microphone — level and the last 5 s</source>
        <translation>麦克风 — 电平与最近 5 秒</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>推理</translation>
    </message>
    <message>
        <source>Evidence</source>
        <translation>证据</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>No camera found.
Pick the demo clip, or open a media file or stream URL, in the Source list.
From a terminal: python main.py --source demo</source>
        <translation>未找到摄像头。
请在“信号源”列表中选择演示片段，或打开媒体文件或流地址。
在终端中：python main.py --source demo</translation>
    </message>
    <message>
        <source>No microphone — analysis is video-only (the model hears nothing).</source>
        <translation>没有麦克风 — 仅用视频分析（模型听不到声音）。</translation>
    </message>
    <message>
        <source>Media ({patterns});;All files (*)</source>
        <translation>媒体文件 ({patterns});;所有文件 (*)</translation>
    </message>
    <message>
        <source>Looking for cameras and microphones…</source>
        <translation>正在查找摄像头和麦克风…</translation>
    </message>
    <message>
        <source>Demo clip (synthetic face + speech)</source>
        <translation>演示片段（合成人脸 + 语音）</translation>
    </message>
    <message>
        <source>camera {index} (not found)</source>
        <translation>摄像头 {index}（未找到）</translation>
    </message>
    <message>
        <source>audio from the source</source>
        <translation>音频来自信号源</translation>
    </message>
    <message>
        <source>No microphone found.</source>
        <translation>未找到麦克风。</translation>
    </message>
    <message>
        <source>Open a media file</source>
        <translation>打开媒体文件</translation>
    </message>
    <message>
        <source>{source}
Press ● Monitor (Space) to start.</source>
        <translation>{source}
按 ● 监测（空格）开始。</translation>
    </message>
    <message>
        <source>Not monitoring.</source>
        <translation>未在监测。</translation>
    </message>
    <message>
        <source>■ Stop</source>
        <translation>■ 停止</translation>
    </message>
    <message>
        <source>● Monitor</source>
        <translation>● 监测</translation>
    </message>
    <message>
        <source>Choose the R1-Omni model folder</source>
        <translation>选择 R1-Omni 模型文件夹</translation>
    </message>
    <message>
        <source>Cannot use the model server {url}: {error}</source>
        <translation>无法使用模型服务器 {url}：{error}</translation>
    </message>
    <message>
        <source>Weights downloaded to {folder}; loading…</source>
        <translation>权重已下载到 {folder}；正在加载…</translation>
    </message>
    <message>
        <source>loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>Model folder, load/unload, download, device and precision</source>
        <translation>模型文件夹、加载/卸载、下载、设备与精度</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Custom instruction</source>
        <translation>自定义指令</translation>
    </message>
    <message>
        <source>The question asked with every window:</source>
        <translation>每个窗口都会提出的问题：</translation>
    </message>
    <message>
        <source>approximate (fast profile)</source>
        <translation>近似（快速模式）</translation>
    </message>
    <message>
        <source>no answer</source>
        <translation>无回答</translation>
    </message>
    <message>
        <source>Analyse every window of a file</source>
        <translation>分析文件的每个窗口</translation>
    </message>
    <message>
        <source>Open a recorded session</source>
        <translation>打开已录制的会话</translation>
    </message>
    <message>
        <source>Opening {name}…</source>
        <translation>正在打开 {name}…</translation>
    </message>
    <message>
        <source>The language changes when R1-Omni Live starts next.</source>
        <translation>界面语言将在下次启动 R1-Omni Live 时更改。</translation>
    </message>
</context>
<context>
    <name>Menus</name>
    <message>
        <source>start / stop monitoring</source>
        <translation>开始 / 停止监测</translation>
    </message>
    <message>
        <source>record on / off</source>
        <translation>开始 / 停止录制</translation>
    </message>
    <message>
        <source>event marker</source>
        <translation>事件标记</translation>
    </message>
    <message>
        <source>exclude marker</source>
        <translation>排除标记</translation>
    </message>
    <message>
        <source>follow now on the timeline</source>
        <translation>时间线跟随当前时刻</translation>
    </message>
    <message>
        <source>look for devices again</source>
        <translation>重新查找设备</translation>
    </message>
    <message>
        <source>choose model folder</source>
        <translation>选择模型文件夹</translation>
    </message>
    <message>
        <source>load model</source>
        <translation>加载模型</translation>
    </message>
    <message>
        <source>dismiss message</source>
        <translation>关闭消息</translation>
    </message>
    <message>
        <source>quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>Never (only when asked, in the evidence view)</source>
        <translation>从不（仅在证据视图中手动请求时）</translation>
    </message>
    <message>
        <source>When the model runs on a GPU</source>
        <translation>模型在 GPU 上运行时</translation>
    </message>
    <message>
        <source>Always (on a CPU each re-run costs as much as the window)</source>
        <translation>始终（在 CPU 上每次重新分析的耗时与窗口本身相当）</translation>
    </message>
    <message>
        <source>Video, audio and the frames each window used (off: analysis log only)</source>
        <translation>视频、音频和每个窗口使用的帧（关闭：仅分析日志）</translation>
    </message>
    <message>
        <source>Audio in the recorded media</source>
        <translation>录制的媒体中包含音频</translation>
    </message>
    <message>
        <source>Blur faces in recorded video and frames</source>
        <translation>模糊录制视频和帧中的人脸</translation>
    </message>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Dark theme</source>
        <translation>深色主题</translation>
    </message>
    <message>
        <source>Light theme</source>
        <translation>浅色主题</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>Open media file or URL…</source>
        <translation>打开媒体文件或网址…</translation>
    </message>
    <message>
        <source>Analyse every window of a file…</source>
        <translation>分析文件的每个窗口…</translation>
    </message>
    <message>
        <source>Not in real time: every window of the file is analysed, as fast as the model allows</source>
        <translation>非实时：以模型允许的最快速度分析文件的每个窗口</translation>
    </message>
    <message>
        <source>Use the demo clip</source>
        <translation>使用演示片段</translation>
    </message>
    <message>
        <source>Open recorded session…</source>
        <translation>打开已录制的会话…</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Follow now on the timeline</source>
        <translation>时间线跟随当前时刻</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>关闭消息</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>&amp;Analysis</source>
        <translation>分析(&amp;A)</translation>
    </message>
    <message>
        <source>Recording keeps</source>
        <translation>录制保存内容</translation>
    </message>
    <message>
        <source>What did the voice add? Re-run every window video-only</source>
        <translation>声音带来了什么？用仅视频方式重新分析每个窗口</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <source>Usage policy</source>
        <translation>使用政策</translation>
    </message>
    <message>
        <source>Live windows always go first</source>
        <translation>实时窗口始终优先</translation>
    </message>
    <message>
        <source>Applies to the next recording</source>
        <translation>从下一次录制开始生效</translation>
    </message>
</context>
<context>
    <name>ModelController</name>
    <message>
        <source>fast (approximate)</source>
        <translation>快速（近似）</translation>
    </message>
</context>
<context>
    <name>ModelSetupPanel</name>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Choose model folder…</source>
        <translation>选择模型文件夹…</translation>
    </message>
    <message>
        <source>Download weights…</source>
        <translation>下载权重…</translation>
    </message>
    <message>
        <source>Capture, the timeline, markers and recording work without it; analysis needs the R1-Omni weights (about 7 GB to download, safetensors only).</source>
        <translation>采集、时间线、标记和录制不需要模型；分析需要 R1-Omni 权重（下载约 7 GB，仅 safetensors）。</translation>
    </message>
    <message>
        <source>&lt;b&gt;Download&lt;/b&gt; (needs the Hugging Face hub, a mirror or ModelScope once, then works offline):</source>
        <translation>&lt;b&gt;下载&lt;/b&gt;（只需连接一次 Hugging Face、镜像或 ModelScope，之后可离线使用）：</translation>
    </message>
    <message>
        <source>or the button below</source>
        <translation>或点击下方按钮</translation>
    </message>
    <message>
        <source>into {folder}</source>
        <translation>下载到 {folder}</translation>
    </message>
    <message>
        <source>&lt;b&gt;Or point to a local copy&lt;/b&gt; with &lt;i&gt;Choose model folder…&lt;/i&gt; (Ctrl+O). Expected layout:</source>
        <translation>&lt;b&gt;或指向本地副本&lt;/b&gt;：使用&lt;i&gt;选择模型文件夹…&lt;/i&gt; (Ctrl+O)。预期的目录结构：</translation>
    </message>
</context>
<context>
    <name>MonitorToolBar</name>
    <message>
        <source>● Monitor</source>
        <translation>● 监测</translation>
    </message>
    <message>
        <source>Start / stop monitoring (Space)</source>
        <translation>开始 / 停止监测（空格）</translation>
    </message>
    <message>
        <source>■ Record</source>
        <translation>■ 录制</translation>
    </message>
    <message>
        <source>Record the session to disk: video, audio, results, markers (Ctrl+R)</source>
        <translation>将会话录制到磁盘：视频、音频、结果、标记 (Ctrl+R)</translation>
    </message>
    <message>
        <source>⚑ Event</source>
        <translation>⚑ 事件</translation>
    </message>
    <message>
        <source>Add an event marker at the current time (M)</source>
        <translation>在当前时刻添加事件标记 (M)</translation>
    </message>
    <message>
        <source>⊘ Exclude</source>
        <translation>⊘ 排除</translation>
    </message>
    <message>
        <source>Mark the current time as to be excluded from analysis (X)</source>
        <translation>将当前时刻标记为从分析中排除 (X)</translation>
    </message>
    <message>
        <source> Source </source>
        <translation> 信号源 </translation>
    </message>
    <message>
        <source>Camera, the bundled demo clip, or a media file / stream URL</source>
        <translation>摄像头、自带的演示片段，或媒体文件 / 流地址</translation>
    </message>
    <message>
        <source>Look for cameras and microphones again (F5)</source>
        <translation>重新查找摄像头和麦克风 (F5)</translation>
    </message>
    <message>
        <source>  Mic </source>
        <translation>  麦克风 </translation>
    </message>
    <message>
        <source>Microphone used with a camera or a stream (media files bring their own audio)</source>
        <translation>与摄像头或流配合使用的麦克风（媒体文件自带音频）</translation>
    </message>
    <message>
        <source>Open media file or URL…</source>
        <translation>打开媒体文件或网址…</translation>
    </message>
    <message>
        <source>No microphone (video only)</source>
        <translation>不用麦克风（仅视频）</translation>
    </message>
    <message>
        <source>Default input: {name}</source>
        <translation>默认输入：{name}</translation>
    </message>
    <message>
        <source>Default input</source>
        <translation>默认输入</translation>
    </message>
    <message>
        <source>{name} (default)</source>
        <translation>{name}（默认）</translation>
    </message>
</context>
<context>
    <name>PolicyNotice</name>
    <message>
        <source>&lt;b&gt;Usage policy.&lt;/b&gt; R1-Omni infers emotions from faces and voices. Its licence restricts emotion inference in &lt;b&gt;workplace and education settings&lt;/b&gt; to where local law permits it. Tell the people you record, get their consent, and record only what your study needs. This notice is also stored with every session.</source>
        <translation>&lt;b&gt;使用政策。&lt;/b&gt;R1-Omni 从人脸和声音推断情绪。其许可协议规定，在&lt;b&gt;工作场所和教育场景&lt;/b&gt;中，只有在当地法律允许的情况下才能进行情绪推断。请告知被录制的人并征得其同意，只录制研究所需的内容。本声明也会随每个会话一起保存。</translation>
    </message>
    <message>
        <source>I understand</source>
        <translation>我已了解</translation>
    </message>
</context>
<context>
    <name>ReasoningPanel</name>
    <message>
        <source>✓ parsed</source>
        <translation>✓ 已解析</translation>
    </message>
    <message>
        <source>⚠ answer without &lt;think&gt;</source>
        <translation>⚠ 回答缺少 &lt;think&gt;</translation>
    </message>
    <message>
        <source>⚠ answer outside the label set</source>
        <translation>⚠ 回答不在标签集中</translation>
    </message>
    <message>
        <source>⚠ &lt;answer&gt; not closed (token limit?)</source>
        <translation>⚠ &lt;answer&gt; 未闭合（达到词元上限？）</translation>
    </message>
    <message>
        <source>✗ no &lt;answer&gt;</source>
        <translation>✗ 没有 &lt;answer&gt;</translation>
    </message>
    <message>
        <source>✗ empty output</source>
        <translation>✗ 输出为空</translation>
    </message>
    <message>
        <source>no answer</source>
        <translation>无回答</translation>
    </message>
    <message>
        <source>waiting for the first window…</source>
        <translation>等待第一个窗口…</translation>
    </message>
    <message>
        <source>The model&apos;s reasoning streams here, token by token.</source>
        <translation>模型的推理会逐词元显示在这里。</translation>
    </message>
    <message>
        <source>History — newest first, click a row for its evidence</source>
        <translation>历史 — 最新在前，点击一行查看其证据</translation>
    </message>
    <message>
        <source>window #{id}  {span}  · analysing…</source>
        <translation>窗口 #{id}  {span}  · 分析中…</translation>
    </message>
    <message>
        <source>window #{id}  {span}  · {seconds}</source>
        <translation>窗口 #{id}  {span}  · {seconds}</translation>
    </message>
    <message>
        <source> · audio {status}</source>
        <translation> · 音频 {status}</translation>
    </message>
    <message>
        <source>approximate (fast profile)</source>
        <translation>近似（快速模式）</translation>
    </message>
    <message>
        <source>answer: {chip}</source>
        <translation>回答：{chip}</translation>
    </message>
</context>
<context>
    <name>RemoteServerDialog</name>
    <message>
        <source>A computer running &lt;code&gt;python main.py serve&lt;/code&gt;. Beyond this machine the server uses &lt;b&gt;https&lt;/b&gt; and a token; plain http is accepted for 127.0.0.1 only.</source>
        <translation>一台运行 &lt;code&gt;python main.py serve&lt;/code&gt; 的计算机。跨机器访问时服务器使用 &lt;b&gt;https&lt;/b&gt; 和令牌；普通 http 仅允许 127.0.0.1。</translation>
    </message>
    <message>
        <source>Remote model server</source>
        <translation>远程模型服务器</translation>
    </message>
    <message>
        <source>leave empty to keep the stored token</source>
        <translation>留空则保留已保存的令牌</translation>
    </message>
    <message>
        <source>system certificates</source>
        <translation>系统证书</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <source>Token</source>
        <translation>令牌</translation>
    </message>
    <message>
        <source>Trust certificate</source>
        <translation>信任的证书</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Certificate to trust (PEM)</source>
        <translation>要信任的证书 (PEM)</translation>
    </message>
    <message>
        <source>PEM (*.pem *.crt);;All (*)</source>
        <translation>PEM (*.pem *.crt);;所有文件 (*)</translation>
    </message>
</context>
<context>
    <name>ReplayWindow</name>
    <message>
        <source>CSV table</source>
        <translation>CSV 表格</translation>
    </message>
    <message>
        <source>JSON document</source>
        <translation>JSON 文档</translation>
    </message>
    <message>
        <source>ELAN annotation</source>
        <translation>ELAN 标注</translation>
    </message>
    <message>
        <source>WebVTT subtitles</source>
        <translation>WebVTT 字幕</translation>
    </message>
    <message>
        <source>HTML report</source>
        <translation>HTML 报告</translation>
    </message>
    <message>
        <source>Replay — {name}</source>
        <translation>回放 — {name}</translation>
    </message>
    <message>
        <source>unreadable session</source>
        <translation>无法读取的会话</translation>
    </message>
    <message>
        <source>This session was recorded without video.</source>
        <translation>该会话录制时没有视频。</translation>
    </message>
    <message>
        <source>Cannot open this session.</source>
        <translation>无法打开该会话。</translation>
    </message>
    <message>
        <source>▶ Play</source>
        <translation>▶ 播放</translation>
    </message>
    <message>
        <source>◀ marker</source>
        <translation>◀ 标记</translation>
    </message>
    <message>
        <source>marker ▶</source>
        <translation>标记 ▶</translation>
    </message>
    <message>
        <source>{n} markers</source>
        <translation>{n} 个标记</translation>
    </message>
    <message>
        <source>no markers</source>
        <translation>无标记</translation>
    </message>
    <message>
        <source>no audio was recorded</source>
        <translation>没有录制音频</translation>
    </message>
    <message>
        <source>no audio output device: playing video only</source>
        <translation>没有音频输出设备：仅播放视频</translation>
    </message>
    <message>
        <source>the recording did not end cleanly: shown up to its last complete log line</source>
        <translation>录制未正常结束：显示到最后一条完整的日志</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Write this session as CSV, JSON, ELAN, WebVTT or an HTML report</source>
        <translation>将该会话导出为 CSV、JSON、ELAN、WebVTT 或 HTML 报告</translation>
    </message>
    <message>
        <source>{windows} windows · {markers} markers · {span} · labels {labels} · model {model}</source>
        <translation>{windows} 个窗口 · {markers} 个标记 · {span} · 标签 {labels} · 模型 {model}</translation>
    </message>
    <message>
        <source>Export session</source>
        <translation>导出会话</translation>
    </message>
    <message>
        <source>Exporting {what}…</source>
        <translation>正在导出{what}…</translation>
    </message>
    <message>
        <source>{error}. Choose another folder or free some disk space.</source>
        <translation>{error}。请选择其他文件夹或释放磁盘空间。</translation>
    </message>
    <message>
        <source>Export failed: {error}</source>
        <translation>导出失败：{error}</translation>
    </message>
    <message>
        <source>Exported to {path}</source>
        <translation>已导出到 {path}</translation>
    </message>
    <message>
        <source>❚❚ Pause</source>
        <translation>❚❚ 暂停</translation>
    </message>
    <message>
        <source>no audio output: playing video only</source>
        <translation>没有音频输出：仅播放视频</translation>
    </message>
    <message>
        <source>load the model in the main window to re-run this window video-only</source>
        <translation>请在主窗口中加载模型，才能仅用视频重新分析此窗口</translation>
    </message>
    <message>
        <source>the recording kept no frames of this window: it cannot be shown to the model again</source>
        <translation>录制中没有保留此窗口的帧：无法再次交给模型</translation>
    </message>
    <message>
        <source>this window was analysed without audio: there is no voice to take away</source>
        <translation>此窗口分析时没有音频：没有可去掉的声音</translation>
    </message>
    <message>
        <source>the recording does not say which question the model was asked</source>
        <translation>录制中没有记录向模型提出的问题</translation>
    </message>
    <message>
        <source>the loaded model is not the one that recorded this session (another weights fingerprint): load that model, or re-analyse the session ({command})</source>
        <translation>已加载的模型不是录制此会话的模型（权重指纹不同）：请加载那个模型，或重新分析此会话（{command}）</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>Frames/s from the video source, and frames/s the preview drew</source>
        <translation>视频源的帧率，以及预览实际绘制的帧率</translation>
    </message>
    <message>
        <source>Microphone sample rate and input overflows (lost audio blocks)</source>
        <translation>麦克风采样率与输入溢出次数（丢失的音频块）</translation>
    </message>
    <message>
        <source>End of a window to its result; in brackets the model&apos;s time for it (with a model server: the server&apos;s time and the network&apos;s), and how long its first reasoning text took</source>
        <translation>从窗口结束到得到结果的时间；括号内为模型用时（使用模型服务器时分为服务器用时和网络用时）以及首段推理文字的用时</translation>
    </message>
    <message>
        <source>How old the newest result is: now minus the end of its window</source>
        <translation>最新结果的时效：当前时刻减去其窗口结束时刻</translation>
    </message>
    <message>
        <source>Windows replaced by a newer one before the model could take them</source>
        <translation>在模型处理前就被更新窗口取代的窗口数</translation>
    </message>
    <message>
        <source>Model, device, precision and memory</source>
        <translation>模型、设备、精度与内存</translation>
    </message>
    <message>
        <source>no video</source>
        <translation>无视频</translation>
    </message>
    <message>
        <source>video {fps} fps</source>
        <translation>视频 {fps} 帧/秒</translation>
    </message>
    <message>
        <source> (preview {fps})</source>
        <translation>（预览 {fps}）</translation>
    </message>
    <message>
        <source>no microphone</source>
        <translation>无麦克风</translation>
    </message>
    <message>
        <source>audio {khz} kHz · {n} overflows</source>
        <translation>音频 {khz} kHz · {n} 次溢出</translation>
    </message>
    <message>
        <source>latency {s}</source>
        <translation>延迟 {s}</translation>
    </message>
    <message>
        <source>model {s}</source>
        <translation>模型 {s}</translation>
    </message>
    <message>
        <source>network {s}</source>
        <translation>网络 {s}</translation>
    </message>
    <message>
        <source>first token {s}</source>
        <translation>首词元 {s}</translation>
    </message>
    <message>
        <source>model {name}</source>
        <translation>模型 {name}</translation>
    </message>
    <message>
        <source>no model</source>
        <translation>无模型</translation>
    </message>
    <message>
        <source>result age {s}</source>
        <translation>结果时效 {s}</translation>
    </message>
    <message>
        <source>superseded {n}</source>
        <translation>被取代 {n}</translation>
    </message>
</context>
<context>
    <name>VideoView</name>
    <message>
        <source>● REC</source>
        <translation>● 录制中</translation>
    </message>
    <message>
        <source>{label}  ·  {age} ago</source>
        <translation>{label}  ·  {age} 前</translation>
    </message>
</context>
<context>
    <name>VoicePanel</name>
    <message>
        <source>the voice changed {before} → {after}</source>
        <translation>声音使回答从 {before} 变为 {after}</translation>
    </message>
    <message>
        <source>the voice kept {label}; the reasoning changed</source>
        <translation>声音保留了回答 {label}，但推理发生了变化</translation>
    </message>
    <message>
        <source>the voice changed nothing {label}</source>
        <translation>声音没有改变任何内容 {label}</translation>
    </message>
    <message>
        <source>largest score shift {label} {shift}</source>
        <translation>最大分数变化：{label} {shift}</translation>
    </message>
    <message>
        <source>with the voice (audio + video)</source>
        <translation>有声音（音频 + 视频）</translation>
    </message>
    <message>
        <source>without it (video only)</source>
        <translation>无声音（仅视频）</translation>
    </message>
    <message>
        <source>label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>answer</source>
        <translation>回答</translation>
    </message>
    <message>
        <source>score shift per label (with the voice minus without it; the model&apos;s own preferences, not probabilities)</source>
        <translation>各标签的分数变化（有声音减去无声音；是模型自身的偏好，不是概率）</translation>
    </message>
    <message>
        <source>Reasoning without the voice (the same reasoning)</source>
        <translation>无声音时的推理（与原推理相同）</translation>
    </message>
    <message>
        <source>Reasoning without the voice (its own reasoning)</source>
        <translation>无声音时的推理（与原推理不同）</translation>
    </message>
    <message>
        <source>(no text)</source>
        <translation>（无文本）</translation>
    </message>
    <message>
        <source>video-only re-run: {seconds} on the same frames and question (the official video-only path); an ablation of this window, not an explanation of the model</source>
        <translation>仅视频重新分析：{seconds}，使用相同的帧和问题（官方的仅视频路径）；这是对此窗口的消融对比，而不是对模型的解释</translation>
    </message>
    <message>
        <source>What did the voice add?</source>
        <translation>声音带来了什么？</translation>
    </message>
    <message>
        <source>Re-run video-only</source>
        <translation>仅用视频重新分析</translation>
    </message>
    <message>
        <source>Analyse this window again without its audio (the official video-only path) and compare the answers. Live windows go first.</source>
        <translation>不带音频再次分析此窗口（官方的仅视频路径）并比较两个回答。实时窗口优先。</translation>
    </message>
    <message>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>video-only re-run {seconds}</source>
        <translation>仅视频重新分析 {seconds}</translation>
    </message>
    <message>
        <source>waiting for the model: live windows go first</source>
        <translation>等待模型：实时窗口优先</translation>
    </message>
    <message>
        <source>(gave way to live windows {n} times)</source>
        <translation>（已为实时窗口让位 {n} 次）</translation>
    </message>
    <message>
        <source>re-running this window video-only…</source>
        <translation>正在仅用视频重新分析此窗口…</translation>
    </message>
    <message>
        <source>not compared without the voice yet</source>
        <translation>尚未做去掉声音的对比</translation>
    </message>
</context>
</TS>
