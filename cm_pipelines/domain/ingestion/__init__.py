"""Ingestion rules: reading CDR files, transcripts (AWS Transcribe, Whisper), AI outputs, CRM
link files and WAV headers; slicing a call day by tenant; counting call volumes."""
