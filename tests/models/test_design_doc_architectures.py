"""The design document's examples, sections 5-9 (architectures, factory function, training
settings, network set-up, guidance, monitoring), run as written with imports adapted."""

from __future__ import annotations

import torch
from torch import nn

from networkfed.core.enums import ModelType
from networkfed.models import (
    ModelManager,
    OptimizedCNNModel,
    OptimizedHybridModel,
    OptimizedLSTMModel,
)
from networkfed.models.guide import (
    MODEL_PERFORMANCE_GUIDE,
    federated_training_best_practices,
    model_selection_guide,
    recommend_model_for_usecase,
)
from networkfed.models.optimized_models import (
    BEST_HYPERPARAMETERS,
    OPTIMIZED_TRAINING_CONFIG,
    create_optimized_model,
)
from networkfed.monitoring import ModelPerformanceMonitor

# --- 5. architectures ---------------------------------------------------------------------------


def test_cnn_architecture_and_training_configuration():
    cnn_model = OptimizedCNNModel(input_dim=10, num_classes=2)
    architecture_summary = {
        'conv_layers': 3, 'conv_filters': [32, 64, 128], 'fc_layers': 3,
        'fc_hidden': [256, 128], 'dropout_rate': 0.3, 'batch_normalization': True,
    }
    cnn_training_config = {
        'batch_size': 32, 'learning_rate': 0.0005, 'optimizer': 'Adam', 'scheduler': 'StepLR',
        'step_size': 10, 'gamma': 0.5, 'weight_decay': 1e-4, 'epochs': 50,
    }
    optimizer = torch.optim.Adam(
        cnn_model.parameters(),
        lr=cnn_training_config['learning_rate'],
        weight_decay=cnn_training_config['weight_decay']
    )
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=cnn_training_config['step_size'], gamma=cnn_training_config['gamma']
    )

    convs = [m for m in cnn_model.modules() if isinstance(m, nn.Conv1d)]
    linears = [m for m in cnn_model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == architecture_summary['conv_layers']
    assert [c.out_channels for c in convs] == architecture_summary['conv_filters']
    assert len(linears) == architecture_summary['fc_layers']
    assert [m.out_features for m in linears[:-1]] == architecture_summary['fc_hidden']
    assert any(isinstance(m, nn.BatchNorm1d) for m in cnn_model.modules())
    assert cnn_training_config == OPTIMIZED_TRAINING_CONFIG['cnn']
    rows, labels = torch.randn(4, 10), torch.tensor([0, 1, 0, 1])
    for _ in range(cnn_training_config['step_size']):  # one step_size of tiny epochs
        optimizer.zero_grad()
        nn.functional.cross_entropy(cnn_model(rows), labels).backward()
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]['lr'] == 0.0005 * 0.5


def test_lstm_architecture_and_temporal_data_handling():
    lstm_model = OptimizedLSTMModel(input_dim=10, num_classes=2, sequence_length=10)
    lstm_architecture = {
        'hidden_size': 64, 'num_layers': 1, 'bidirectional': True, 'dropout_rate': 0.2,
    }
    lstm_training_config = {
        'batch_size': 16, 'learning_rate': 0.0005, 'optimizer': 'Adam',
        'sequence_length': 10, 'gradient_clipping': 1.0,
    }

    def process_temporal_data(lstm_model, sequence_data):
        """Process temporal sensor sequences for predictive maintenance."""
        lstm_output = lstm_model(sequence_data)
        return lstm_output

    assert process_temporal_data(lstm_model, torch.randn(32, 10, 10)).shape == (32, 2)
    assert lstm_architecture.items() <= BEST_HYPERPARAMETERS['lstm'].items()
    assert lstm_training_config.items() <= OPTIMIZED_TRAINING_CONFIG['lstm'].items()
    assert (lstm_model.lstm.hidden_size, lstm_model.fc1.in_features) == (64, 128)


def test_hybrid_architecture_and_multi_modal_processing():
    hybrid_model = OptimizedHybridModel(input_dim=10, num_classes=2, sequence_length=10)
    hybrid_architecture = {'cnn_filters': [32, 64], 'lstm_hidden': 128, 'dropout_rate': 0.4}
    hybrid_training_config = {
        'batch_size': 16, 'learning_rate': 0.001, 'optimizer': 'Adam', 'scheduler': 'StepLR',
        'dropout_rate': 0.4, 'gradient_clipping': 1.0,
    }

    def hybrid_data_processing(hybrid_model, industrial_data):
        """Process both tabular and sequence data with hybrid model."""
        predictions = hybrid_model(industrial_data)
        return predictions

    assert hybrid_data_processing(hybrid_model, torch.randn(16, 10)).shape == (16, 2)
    assert hybrid_data_processing(hybrid_model, torch.randn(16, 10, 10)).shape == (16, 2)
    assert hybrid_architecture == BEST_HYPERPARAMETERS['hybrid']
    tuned = {**OPTIMIZED_TRAINING_CONFIG['hybrid'], **BEST_HYPERPARAMETERS['hybrid']}
    assert hybrid_training_config.items() <= tuned.items()


# --- 6. factory function and training configuration -------------------------------------------


def deploy_models_for_factory(factory_type, data_characteristics):
    """Deploy appropriate models based on factory requirements."""
    models = {}
    if data_characteristics['has_temporal_patterns']:
        models['temporal'] = create_optimized_model(
            model_type='lstm',
            input_dim=data_characteristics['feature_count'],
            num_classes=data_characteristics['num_classes'],
            sequence_length=data_characteristics['sequence_length']
        )
    if data_characteristics['has_spatial_patterns']:
        models['spatial'] = create_optimized_model(
            model_type='cnn',
            input_dim=data_characteristics['feature_count'],
            num_classes=data_characteristics['num_classes']
        )
    if data_characteristics['complex_patterns']:
        models['hybrid'] = create_optimized_model(
            model_type='hybrid',
            input_dim=data_characteristics['feature_count'],
            num_classes=data_characteristics['num_classes'],
            sequence_length=data_characteristics['sequence_length']
        )
    return models


def test_factory_function_for_quick_deployment():
    automotive_data_chars = {
        'feature_count': 10, 'num_classes': 2, 'sequence_length': 10,
        'has_temporal_patterns': True, 'has_spatial_patterns': True, 'complex_patterns': True,
    }

    automotive_models = deploy_models_for_factory('automotive', automotive_data_chars)

    assert list(automotive_models) == ['temporal', 'spatial', 'hybrid']
    assert automotive_models['temporal'](torch.randn(2, 10, 10)).shape == (2, 2)
    assert automotive_models['spatial'](torch.randn(2, 10)).shape == (2, 2)
    assert automotive_models['hybrid'](torch.randn(2, 10, 10)).shape == (2, 2)


def setup_federated_training(model_type):
    """Setup training configuration for federated learning."""
    config = OPTIMIZED_TRAINING_CONFIG[model_type].copy()
    hyperparams = BEST_HYPERPARAMETERS[model_type].copy()
    training_setup = {
        **config,
        **hyperparams,
        'federated_rounds': 10,
        'local_epochs': 3,
        'aggregation_method': 'FedAvg'
    }
    return training_setup


def test_optimized_training_configurations():
    cnn_federated_config = setup_federated_training('cnn')
    lstm_federated_config = setup_federated_training('lstm')
    hybrid_federated_config = setup_federated_training('hybrid')
    documented = {
        'batch_size': 32, 'learning_rate': 0.0005, 'optimizer': 'Adam',
        'conv_filters': [32, 64, 128], 'fc_hidden': [256, 128], 'dropout_rate': 0.3,
        'federated_rounds': 10, 'local_epochs': 3, 'aggregation_method': 'FedAvg',
    }

    assert documented.items() <= cnn_federated_config.items()
    assert lstm_federated_config['hidden_size'] == 64 and lstm_federated_config['batch_size'] == 16
    assert hybrid_federated_config['learning_rate'] == 0.001


# --- 7. integration with federated learning ------------------------------------------------


def setup_federated_models_for_network(factory_configs):
    """Setup models for multi-factory federated learning network."""
    factory_models = {}
    for factory_id, config in factory_configs.items():
        manager = ModelManager()
        factory_models[factory_id] = {}
        if config['prefers_cnn']:
            factory_models[factory_id]['cnn'] = manager.create_and_register_model(
                model_id=f"{factory_id}_cnn", model_type=ModelType.CNN,
                input_dim=config['input_dim'], num_classes=config['num_classes']
            )
        if config['prefers_lstm']:
            factory_models[factory_id]['lstm'] = manager.create_and_register_model(
                model_id=f"{factory_id}_lstm", model_type=ModelType.LSTM,
                input_dim=config['input_dim'], num_classes=config['num_classes']
            )
        if config['prefers_hybrid']:
            factory_models[factory_id]['hybrid'] = manager.create_and_register_model(
                model_id=f"{factory_id}_hybrid", model_type=ModelType.HYBRID,
                input_dim=config['input_dim'], num_classes=config['num_classes']
            )
    return factory_models


def test_multi_site_model_distribution():
    factory_network_config = {
        'automotive_detroit': {'input_dim': 10, 'num_classes': 2, 'prefers_cnn': True,
                               'prefers_lstm': False, 'prefers_hybrid': True},
        'chemical_houston': {'input_dim': 10, 'num_classes': 2, 'prefers_cnn': False,
                             'prefers_lstm': True, 'prefers_hybrid': False},
        'aerospace_seattle': {'input_dim': 10, 'num_classes': 2, 'prefers_cnn': True,
                              'prefers_lstm': True, 'prefers_hybrid': True},
    }

    network_models = setup_federated_models_for_network(factory_network_config)

    assert {site: list(models) for site, models in network_models.items()} == {
        'automotive_detroit': ['cnn', 'hybrid'],
        'chemical_houston': ['lstm'],
        'aerospace_seattle': ['cnn', 'lstm', 'hybrid'],
    }
    for models in network_models.values():
        for wrapper in models.values():
            assert wrapper(torch.randn(3, 10)).shape == (3, 2)


def test_model_performance_guide_and_recommendations():
    assert MODEL_PERFORMANCE_GUIDE['lstm'] == {
        'best_for': ['Temporal patterns', 'Sequential data', 'Time series'],
        'accuracy_range': '93-95%', 'training_speed': 'Medium', 'memory_usage': 'High',
        'federated_efficiency': 'Medium',
    }
    assert [MODEL_PERFORMANCE_GUIDE[m]['training_speed'] for m in ('cnn', 'hybrid')] == [
        'Fast', 'Slow'
    ]
    everything = recommend_model_for_usecase(
        {'temporal_dominant': True, 'spatial_dominant': True},
        {'max_accuracy': True, 'fastest_training': True, 'comprehensive_analysis': True},
    )
    assert everything == [
        ('lstm', 'Highest accuracy: 94.15%'),
        ('cnn', 'Fastest training and high federated efficiency'),
        ('hybrid', 'Best for complex multi-modal analysis'),
        ('lstm', 'Optimal for temporal pattern recognition'),
        ('cnn', 'Optimal for spatial/feature pattern recognition'),
    ]
    assert recommend_model_for_usecase({}, {}) == []


# --- 8. best practices -------------------------------------------------------------------------


def test_model_selection_guide():
    selection_guide = model_selection_guide()

    assert selection_guide['performance_priorities'] == {
        'maximum_accuracy': 'LSTM (94.15% accuracy)',
        'training_efficiency': 'CNN (Fast convergence)',
        'comprehensive_analysis': 'Hybrid (Multi-modal processing)',
    }
    assert selection_guide['data_type_considerations']['tabular_data'] == (
        'CNN - Excellent for feature correlations'
    )
    assert list(selection_guide['federated_considerations']) == [
        'communication_efficiency', 'memory_constraints', 'robustness'
    ]


def test_federated_training_best_practices():
    assert federated_training_best_practices() == {
        'batch_size_optimization': {
            'cnn': 'Use batch_size=32 for optimal convergence',
            'lstm': 'Use batch_size=16 to manage memory',
            'hybrid': 'Use batch_size=16 for complex processing'
        },
        'learning_rate_scheduling': {
            'initial_lr': 'Use model-specific optimized rates',
            'scheduler': 'StepLR with step_size=10, gamma=0.5',
            'adaptation': 'Monitor convergence and adjust'
        },
        'regularization_strategies': {
            'dropout': 'Model-specific optimized rates (0.2-0.4)',
            'weight_decay': '1e-4 for all models',
            'gradient_clipping': '1.0 for LSTM and Hybrid models'
        },
        'federated_specific': {
            'local_epochs': '3-5 epochs per round',
            'aggregation_frequency': 'Every 1-2 rounds',
            'client_sampling': 'Minimum 3 clients per round'
        }
    }


# --- 9. monitoring ------------------------------------------------------------------------------


def test_monitor_usage_example():
    model_manager = ModelManager()
    monitor = ModelPerformanceMonitor(model_manager)

    monitor.track_round_performance("global", 0, {"accuracy": 0.7, "loss": 0.6})

    assert monitor.model_manager is model_manager
    assert monitor.detect_training_issues("global") == {"status": "healthy", "issues": []}
    assert monitor.detect_training_issues("unknown") == {"status": "no_data"}
